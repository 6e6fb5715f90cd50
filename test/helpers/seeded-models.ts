/** Small models for the scheduler's test and bench: the face-api dev dependency's models and seeded in-memory ones. */
import { join } from 'node:path';
import type { InMemoryTensor } from '../../src/index.js';
import { Random } from '../../src/shared/random.js';
import { projectRoot } from './corpus.js';

/** The 7 TF.js models the @vladmandic/face-api dev dependency ships (present only when it is installed). */
export const FACE_API_MODELS: readonly string[] = [
  'face_recognition_model',
  'ssd_mobilenetv1_model',
  'age_gender_model',
  'face_expression_model',
  'face_landmark_68_model',
  'face_landmark_68_tiny_model',
  'tiny_face_detector_model',
].map((n) => join(projectRoot, 'node_modules', '@vladmandic', 'face-api', 'model', `${n}-weights_manifest.json`));

/**
 * A seeded in-memory model: `layers` dense float32 layers, layer l of (rows + rowStep·l)×cols, every
 * third one heavy-tailed.
 */
export function seededDenseModel(seed: number, layers: number, rows: number, cols: number, rowStep: number): InMemoryTensor[] {
  const rng = new Random(seed);
  return Array.from({ length: layers }, (_, l) => {
    const r = rows + rowStep * l;
    const data = new Float32Array(r * cols);
    for (let i = 0; i < data.length; i++) {
      const u = rng.next() - 0.5;
      data[i] = l % 3 === 1 ? u / Math.max(0.02, Math.abs(rng.next() - 0.5)) ** 0.7 : u;
    }
    return { name: `l${l}.weight`, shape: [r, cols], data };
  });
}
