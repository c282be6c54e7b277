// The generation loop lives in @ganglion/core; this re-export is what apps/web imported before it moved.
export { generate, runtimeModel } from '@ganglion/core';
