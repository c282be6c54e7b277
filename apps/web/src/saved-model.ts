// The page's last model, kept in this browser's IndexedDB on this device, so a reload or a closed
// tab does not lose a training run: the checkpoint's files (the bytes a download gives) under one
// key, written in one transaction. IndexedDB commits a transaction whole or not at all, so a save
// cut short (the tab closed, the browser killed) leaves the previous saved model readable.
// Nothing here leaves the device; `forgetSavedModel` deletes it.

const DB = 'ganglion';
const STORE = 'models';
const KEY = 'last';

/** What the page saved: a checkpoint's files, and what to tell the user about them. */
export interface SavedModel {
  readonly files: Readonly<Record<string, Uint8Array>>;
  readonly preset: string;
  readonly step: number;
  /** When it was saved, ms since the epoch. */
  readonly savedAt: number;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(`this browser's storage (IndexedDB) cannot be opened: ${req.error?.message}`));
    req.onblocked = () => reject(new Error("this browser's storage (IndexedDB) is held by another tab of this page"));
  });
}

/** Run `use` in one transaction on the store; resolves when the transaction has committed. */
async function transaction<T>(mode: IDBTransactionMode, use: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = use(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      const fail = () => reject(new Error(`this browser's storage (IndexedDB): ${(tx.error ?? req.error)?.message}`));
      tx.onerror = fail;
      tx.onabort = fail;
    });
  } finally {
    db.close();
  }
}

/** Replace the saved model with `model`, whole or not at all. */
export function saveModel(model: SavedModel): Promise<void> {
  return transaction('readwrite', (s) => s.put(model, KEY)).then(() => undefined);
}

/** The saved model, if there is one. */
export async function savedModel(): Promise<SavedModel | undefined> {
  return (await transaction<SavedModel | undefined>('readonly', (s) => s.get(KEY))) ?? undefined;
}

export function forgetSavedModel(): Promise<void> {
  return transaction('readwrite', (s) => s.delete(KEY)).then(() => undefined);
}
