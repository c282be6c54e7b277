// The page: wires the inputs to a TrainingSession, the loss chart, the message inspector, the graph
// view, generation and downloads. Every failure a user can cause is shown in #error, and the page
// stays usable after it.
import { GanglionError, type Message } from '@ganglion/core';
import { downloadCheckpoint, downloadOnnx } from './downloads.js';
import { GraphView } from './graph-view.js';
import { MessageInspector, renderInspector } from './inspector.js';
import { LossChart } from './loss-chart.js';
import { type SavedModel, forgetSavedModel, saveModel, savedModel } from './saved-model.js';
import { WEB_PRESETS } from './presets.js';
import { ENGINES, type Engine, TrainingSession, hasWebGpu } from './session.js';
import { InputError, checkText, readTextFile } from './text-input.js';

const $ = <T extends HTMLElement | SVGElement>(id: string) => document.getElementById(id) as unknown as T;

const textArea = $<HTMLTextAreaElement>('text');
const fileInput = $<HTMLInputElement>('file');
const fileNote = $<HTMLElement>('file-note');
const presetSelect = $<HTMLSelectElement>('preset');
const stepsInput = $<HTMLInputElement>('steps');
const seedInput = $<HTMLInputElement>('seed');
const seqLenInput = $<HTMLInputElement>('seq-len');
const batchInput = $<HTMLInputElement>('batch');
const trainButton = $<HTMLButtonElement>('train');
const continueBox = $<HTMLInputElement>('continue');
const engineSelect = $<HTMLSelectElement>('engine');
const checkpointInput = $<HTMLInputElement>('load-checkpoint');
const status = $<HTMLElement>('status');
const errorBox = $<HTMLElement>('error');
const chart = new LossChart($<SVGSVGElement>('loss-chart'));
const inspectorTable = $<HTMLTableElement>('inspector');
const graphSvg = $<SVGSVGElement>('graph');
const mermaid = $<HTMLElement>('mermaid');
const promptInput = $<HTMLInputElement>('prompt');
const lengthInput = $<HTMLInputElement>('length');
const temperatureInput = $<HTMLInputElement>('temperature');
const greedyButton = $<HTMLButtonElement>('generate-greedy');
const sampledButton = $<HTMLButtonElement>('generate-sampled');
const generated = $<HTMLElement>('generated');
const checkpointButton = $<HTMLButtonElement>('download-checkpoint');
const onnxButton = $<HTMLButtonElement>('download-onnx');
const checkpointFiles = $<HTMLUListElement>('checkpoint-files');
const savedBox = $<HTMLElement>('saved-model');
const savedNote = $<HTMLElement>('saved-model-note');
const restoreButton = $<HTMLButtonElement>('restore-model');
const forgetButton = $<HTMLButtonElement>('forget-model');

let session: TrainingSession | undefined;
let inspector: MessageInspector | undefined;
let fileText: { name: string; text: string } | undefined;
let training = false;
let stopRequested = false;

function showError(e: unknown): void {
  // Our own errors (bad input, a text too short for one batch, a prompt outside the vocabulary)
  // are the user's to fix: their message is the whole story. Anything else is a bug; say so too.
  const known = e instanceof GanglionError || e instanceof InputError;
  errorBox.textContent = known ? (e as Error).message : `unexpected error: ${String((e as Error)?.message ?? e)}`;
  errorBox.hidden = false;
  if (!known) console.error(e);
}

function clearError(): void {
  errorBox.hidden = true;
  errorBox.textContent = '';
}

/** Run a handler, showing what it throws in the page. */
const guarded = (fn: () => Promise<void> | void) => async (): Promise<void> => {
  clearError();
  try {
    await fn();
  } catch (e) {
    showError(e);
  }
};

function intOf(input: HTMLInputElement, label: string, min: number): number {
  const v = Number(input.value);
  if (input.value.trim() === '' || !Number.isInteger(v) || v < min)
    throw new InputError(`${label} must be a whole number ≥ ${min}, got ${JSON.stringify(input.value)}`);
  return v;
}

function numberOf(input: HTMLInputElement, label: string, min: number): number {
  const v = Number(input.value);
  if (input.value.trim() === '' || !Number.isFinite(v) || v < min)
    throw new InputError(`${label} must be a number ≥ ${min}, got ${JSON.stringify(input.value)}`);
  return v;
}

for (const name of Object.keys(WEB_PRESETS)) presetSelect.append(new Option(name, name));
for (const [engine, label] of Object.entries(ENGINES)) {
  const missing = engine === 'ort-webgpu' && !hasWebGpu();
  const option = new Option(missing ? `${label}: not in this browser` : label, engine);
  option.disabled = missing;
  engineSelect.append(option);
}
presetSelect.value = 'char-lstm-small';
function presetChanged(): void {
  const p = WEB_PRESETS[presetSelect.value];
  $<HTMLElement>('preset-summary').textContent = p.summary;
  seqLenInput.value = String(p.seqLen);
  batchInput.value = String(p.batchSize);
}
presetSelect.addEventListener('change', presetChanged);
presetChanged();

fileInput.addEventListener(
  'change',
  guarded(async () => {
    fileText = undefined;
    fileNote.textContent = '';
    const file = fileInput.files?.[0];
    if (!file) return;
    try {
      fileText = { name: file.name, text: await readTextFile(file) };
    } finally {
      fileInput.value = ''; // picking the same file again fires `change` again
    }
    fileNote.textContent = `training on ${file.name}: ${fileText.text.length.toLocaleString('en-US')} characters (edit the box to use pasted text instead)`;
  }),
);
textArea.addEventListener('input', () => {
  fileText = undefined;
  fileNote.textContent = '';
});

/** Paint, then continue: the page stays responsive between training steps. */
const nextFrame = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

function onMessage(view: GraphView, s: TrainingSession) {
  return (m: Message) => {
    if (m.kind === 'activation' && m.context.training)
      for (const c of s.runtime.graph.consumers(m.from)) view.flash(m.from.node, c.node, 'forward');
    else if (m.kind === 'gradient') view.flash(m.to.node, m.from.node, 'backward');
  };
}

/** Make `next` the page's session: graph view, inspector, chart and buttons follow it. */
function attach(next: TrainingSession): void {
  inspector?.stop();
  session = next;
  const view = new GraphView(graphSvg, next.runtime.graph);
  inspector = new MessageInspector(next.runtime, onMessage(view, next));
  mermaid.textContent = next.runtime.graph.toMermaid();
  renderInspector(inspectorTable, next.runtime.graph, inspector);
  chart.reset();
  status.dataset.step = String(next.step);
  for (const b of [greedyButton, sampledButton, checkpointButton, onnxButton]) b.disabled = false;
  checkpointFiles.replaceChildren();
}

async function train(): Promise<void> {
  const source = fileText ?? { name: 'the pasted text', text: textArea.value };
  checkText(source.name, source.text);
  const steps = intOf(stepsInput, 'steps', 1);
  let next = session;
  if (next && continueBox.checked) {
    next.useText(source.text);
  } else {
    const seed = intOf(seedInput, 'seed', 0);
    const seqLen = intOf(seqLenInput, 'sequence length', 1);
    const batchSize = intOf(batchInput, 'batch', 1);
    const preset = WEB_PRESETS[presetSelect.value];
    status.textContent = `building ${preset.name}…`;
    next = await TrainingSession.create(source.text, { preset, seed, seqLen, batchSize });
    attach(next);
  }
  const { preset } = next.options;
  next.engine = engineSelect.value as Engine;
  training = true;
  stopRequested = false;
  trainButton.textContent = 'Stop';
  const params = next.runtime.graph.paramCount().toLocaleString('en-US');
  const last = next.step + steps;
  let kept = performance.now();
  try {
    while (next.step < last && !stopRequested) {
      const started = performance.now();
      const r = await next.trainStep();
      chart.push(r.loss);
      renderInspector(inspectorTable, next.runtime.graph, inspector!);
      status.dataset.step = String(r.step);
      status.textContent = `${preset.name} on ${ENGINES[next.engine]} (${params} parameters, ${next.tokenizer.vocabSize} ${next.tokenizer.kind} tokens): step ${r.step}/${last}, loss ${r.loss.toFixed(4)}, gradient norm ${r.gradNorm.toFixed(3)}, ${(performance.now() - started).toFixed(0)} ms/step`;
      if (performance.now() - kept > KEEP_EVERY_MS) {
        await keep(next);
        kept = performance.now();
      }
      await nextFrame();
    }
    await keep(next);
    status.textContent += stopRequested ? ' — stopped' : ' — done';
    status.dataset.done = 'true';
  } finally {
    training = false;
    trainButton.textContent = 'Train';
  }
}

/** How often a training run is kept in this browser (and at its end). */
const KEEP_EVERY_MS = 60_000;

/**
 * Keep `s` as this browser's saved model, replacing the one before. A storage failure (full, or
 * refused) is shown in the page and training goes on: the download buttons still work.
 */
async function keep(s: TrainingSession): Promise<void> {
  const model: SavedModel = {
    files: await s.checkpointFiles(),
    preset: s.options.preset.name,
    step: s.step,
    savedAt: Date.now(),
  };
  try {
    await saveModel(model);
    showSaved(model);
  } catch (e) {
    showError(
      e instanceof Error
        ? new InputError(`${e.message}; the model is not kept in this browser (download it instead)`)
        : e,
    );
  }
}

function showSaved(model: SavedModel | undefined): void {
  savedBox.hidden = model === undefined;
  if (model)
    savedNote.textContent = `this browser keeps your last model (${model.preset}, step ${model.step}, saved ${new Date(model.savedAt).toLocaleString()}), on this device only:`;
}

/** Make a loaded checkpoint the page's session, to generate with or train further. */
function adopt(loaded: TrainingSession): void {
  attach(loaded);
  continueBox.checked = true;
  delete status.dataset.done;
  status.dataset.step = String(loaded.step);
  status.textContent = `loaded a ${loaded.options.preset.name} checkpoint at step ${loaded.step} (${loaded.tokenizer.vocabSize} ${loaded.tokenizer.kind} tokens): generate, or train it further on the text`;
}

checkpointInput.addEventListener(
  'change',
  guarded(async () => {
    const picked = [...(checkpointInput.files ?? [])];
    checkpointInput.value = '';
    if (picked.length === 0) return;
    if (training) throw new InputError('stop training before loading a checkpoint');
    const files: Record<string, Uint8Array> = {};
    for (const f of picked) files[f.name] = new Uint8Array(await f.arrayBuffer());
    adopt(await TrainingSession.fromCheckpoint(files, picked.length === 1 ? picked[0].name : 'the checkpoint'));
  }),
);

restoreButton.addEventListener(
  'click',
  guarded(async () => {
    if (training) throw new InputError('stop training before restoring the saved model');
    const model = await savedModel();
    showSaved(model);
    if (!model) throw new InputError('this browser holds no saved model any more');
    adopt(await TrainingSession.fromCheckpoint(model.files, 'the model saved in this browser'));
  }),
);

forgetButton.addEventListener(
  'click',
  guarded(async () => {
    await forgetSavedModel();
    showSaved(undefined);
  }),
);

trainButton.addEventListener(
  'click',
  guarded(async () => {
    if (training) {
      stopRequested = true;
      return;
    }
    delete status.dataset.done;
    await train();
  }),
);

function generateWith(greedy: boolean) {
  return guarded(async () => {
    if (!session) throw new InputError('train a model first');
    const prompt = promptInput.value;
    if (prompt === '') throw new InputError('the prompt is empty: give it at least one character');
    const unknown = session.tokenizer.unknown(prompt);
    if (unknown.length > 0)
      throw new InputError(
        `the prompt has characters the model has never seen: ${unknown.map((c) => JSON.stringify(c)).join(', ')}; the vocabulary is the ${session.tokenizer.vocabSize} characters of the training text`,
      );
    const maxTokens = intOf(lengthInput, 'length', 1);
    const temperature = greedy ? 0 : numberOf(temperatureInput, 'temperature', 0);
    const seed = intOf(seedInput, 'seed', 0);
    generated.textContent = prompt;
    delete generated.dataset.text;
    const text = await session.generate(prompt, maxTokens, { temperature, seed }, (t) => generated.append(t));
    generated.dataset.text = text;
    generated.dataset.mode = greedy ? 'greedy' : 'sampled';
  });
}
greedyButton.addEventListener('click', generateWith(true));
sampledButton.addEventListener('click', generateWith(false));

checkpointButton.addEventListener(
  'click',
  guarded(async () => {
    if (!session) throw new InputError('train a model first');
    await downloadCheckpoint(session, checkpointFiles);
  }),
);

onnxButton.addEventListener(
  'click',
  guarded(async () => {
    if (!session) throw new InputError('train a model first');
    await downloadOnnx(session, checkpointFiles);
  }),
);

// The model a previous visit kept, if any; the page is ready either way (storage may be refused).
void guarded(async () => showSaved(await savedModel()))().then(() => (document.body.dataset.ready = 'true'));
