/**
 * The figure spec type, on the floor below everything that builds, splits or renders specs
 * (layer.ts, model.ts, compare.ts, sweep.ts, template.ts, render.ts), so that none of them imports
 * another only for a type: template.ts and render.ts used to import each other.
 */

/** A Vega-Lite spec as plain JSON (the figure builders produce these). */
export type VlSpec = Record<string, unknown>;
