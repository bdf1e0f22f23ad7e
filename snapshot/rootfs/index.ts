/** A stage's root filesystem on disk: base layers applied to a directory, and its removal. */
export { applyLayers, MAX_NOTES, type ApplyOptions, type ApplySummary, type LayerInput, type Owner, type SkipNote } from './apply.js';
export { openLayerTar } from './layer-input.js';
export { removeRootfs } from './remove.js';
