/**
 * A trained model as a standard tfjs layers model folder (`model.json` + `weights.bin`), loadable
 * by `tf.loadLayersModel` anywhere (browser, tfjs-node's file://, the tfjs converter). tfjs-node's
 * own file handler is not available here, so the handlers are written against `tf.io` directly.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { SmltError } from '../errors.js';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

export async function saveLayersModel(
  model: tfl.LayersModel,
  dir: string,
): Promise<{ modelJsonPath: string; weightsPath: string; bytes: number }> {
  await mkdir(dir, { recursive: true });
  const modelJsonPath = join(dir, MODEL_JSON);
  const weightsPath = join(dir, WEIGHTS_BIN);
  let bytes = 0;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? []));
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      };
      const json = JSON.stringify(modelJson);
      await writeFile(weightsPath, weights);
      // model.json last and by rename: a reader that finds it also finds complete weights.
      const partial = `${modelJsonPath}.${process.pid}.tmp`;
      await writeFile(partial, json);
      await rename(partial, modelJsonPath);
      bytes = weights.byteLength + Buffer.byteLength(json);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  return { modelJsonPath, weightsPath, bytes };
}

/** Loads a folder written by saveLayersModel (or any tfjs layers model folder). */
export async function loadLayersModelFromDir(dir: string): Promise<tfl.LayersModel> {
  return tfl.loadLayersModel(dirLoadHandler(dir));
}

/** An IOHandler reading `model.json` and the weight files its manifest names, from `dir` only. */
function dirLoadHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const modelJsonPath = join(dir, MODEL_JSON);
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(await readFile(modelJsonPath, 'utf8')) as tf.io.ModelJSON;
      } catch (err) {
        throw new SmltError('MODEL_INVALID', `Cannot read a tfjs model from ${modelJsonPath}.`, { cause: err });
      }
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs = manifest.flatMap((group) => group.weights);
        const paths = manifest.flatMap((group) => group.paths);
        const buffers = await Promise.all(paths.map((p) => readFile(insideDir(dir, p))));
        const weightData = buffers.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
        return [specs, weightData];
      });
    },
  };
}

/** Manifest paths are relative to model.json; refuse any that would leave its folder. */
function insideDir(dir: string, path: string): string {
  const file = resolve(dir, path);
  const rel = relative(resolve(dir), file);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new SmltError('MODEL_INVALID', `The weights manifest names ${path}, outside ${dir}.`);
  }
  return file;
}
