// Static maps: pinned domain -> onion routes from YAML files in the OnionMX or the native format.
export { loadStaticMaps, loadStaticMapsSync, staticMapFromTexts } from './load.ts';
export { loadStaticMapsOffThread } from './load-off-thread.ts';
export type { MapText } from './load.ts';
export { detectFormat } from './map-file.ts';
export type { MapFormat } from './map-file.ts';
export type {
  MapProblem,
  MapProblemCode,
  MapStats,
  StaticLookup,
  StaticLookupOptions,
  StaticMap,
  StaticMapEntry,
  StaticMapOptions,
} from './types.ts';
