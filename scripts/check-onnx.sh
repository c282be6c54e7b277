#!/usr/bin/env bash
# Exports pass the official ONNX checker with full shape inference: train a tiny char-LSTM and a
# tiny char-GPT with the built CLI, export each plain and stateful (opset 17, the default; also int8 and
# float16 storage, and an imported Llama), and run
# onnx.checker.check_model(m, full_check=True) with Debian's python3-onnx.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
  (apt-get update -qq && apt-get install -y -qq python3-onnx) >/dev/null 2>&1 || true
fi
if ! /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
  echo "check-onnx: python3-onnx is not available; the official ONNX checker was NOT run" >&2
  exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf 'It was the best of times, it was the worst of times, it was the age of wisdom. %.0s' $(seq 1 12) > "$dir/corpus.txt"
g="node apps/cli/bin/ganglion.js"
$g train --preset char-lstm-small --corpus "$dir/corpus.txt" --backend reference --batch 4 --seq-len 12 --steps 2 --out "$dir/model" --json > /dev/null
# Debian's onnx (1.12) checks IR <= 8, i.e. opset <= 17, the export default; higher opsets are
# checked by loading them in onnxruntime 1.30 in the backend-onnx tests.
$g export "$dir/model" --out "$dir/plain-17.onnx" --opset 17 > /dev/null
$g export "$dir/model" --out "$dir/stateful-17.onnx" --opset 17 --stateful > /dev/null
# The GPT: LayerNormalization, in-graph positions and masks, past_key_values / present.
$g train --preset char-gpt --corpus "$dir/corpus.txt" --backend reference --batch 2 --seq-len 8 --steps 1 --out "$dir/gpt" --json > /dev/null
$g export "$dir/gpt" --out "$dir/gpt-plain-17.onnx" --opset 17 > /dev/null
$g export "$dir/gpt" --out "$dir/gpt-stateful-17.onnx" --opset 17 --stateful > /dev/null
# Quantized and float16 storage: DequantizeLinear per channel, Cast from float16.
$g export "$dir/gpt" --out "$dir/gpt-int8-17.onnx" --stateful --quantize int8 --dtype float16 > /dev/null
$g export "$dir/model" --out "$dir/lstm-int8-17.onnx" --stateful --quantize int8 > /dev/null
# An imported Llama (grouped-query attention, RMSNorm, SwiGLU, untied head).
$g import hf packages/hf/fixtures/llama-tiny --out "$dir/llama" > /dev/null
$g export "$dir/llama" --out "$dir/llama-stateful-17.onnx" --stateful > /dev/null
/usr/bin/python3 - "$dir"/*.onnx <<'PY'
import sys, onnx
for path in sys.argv[1:]:
    onnx.checker.check_model(onnx.load(path), full_check=True)
    print(f"check-onnx: {path.rsplit('/', 1)[-1]} passes onnx.checker (full_check) with onnx {onnx.__version__}")
PY
