#!/usr/bin/env node
// bench/nn_ort.js: ONNX Runtime (onnxruntime-node, CPU execution provider) on
// the same job as `geoloc bench nn --mode infer` (for comparison; not a test).
//
//   node bench/nn_ort.js --model build/bench-ort/resnet50.onnx --batch 32 \
//       [--arch resnet50] [--mode infer] [--iters 5] [--warmup 2] [--classes 1000]
//       [--size 224] [--threads 2] [--verbose]
//
// The model comes from bench/onnx_export.py (dynamic batch axis). Session:
// intraOpNumThreads --threads, interOpNumThreads 1, graphOptimizationLevel
// 'all', executionMode 'sequential'. The input is random (uniform in
// [-1, 1)); one iteration is one session.run. Training is not supported
// (exit 2). onnxruntime-node is looked up in $ORT_DIR/node_modules when
// ORT_DIR is set, else through the ordinary require path.
//
// Prints exactly one line on stdout:
//   bench nn: impl=onnxruntime arch=resnet50 mode=infer batch=32 images/s=20.7 ms/batch=1545.2 peak_rss_mib=1234
// with ms/batch the median of the timed iterations, images/s = batch / median,
// and the peak resident set of this process (process.resourceUsage().maxRSS).
'use strict';
const path = require('path');

function usage(msg) {
  process.stderr.write(`bench/nn_ort.js: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const a = { arch: 'resnet50', mode: 'infer', batch: 32, iters: 5, warmup: 2, classes: 1000,
              size: 224, threads: 2, model: null, verbose: false };
  const ints = new Set(['batch', 'iters', 'warmup', 'classes', 'size', 'threads']);
  for (let i = 0; i < argv.length; i++) {
    let key = argv[i];
    if (!key.startsWith('--')) usage(`unexpected argument '${key}'`);
    key = key.slice(2);
    let val = null;
    const eq = key.indexOf('=');
    if (eq >= 0) { val = key.slice(eq + 1); key = key.slice(0, eq); }
    if (key === 'verbose') { a.verbose = true; continue; }
    if (!(key in a)) usage(`unknown option --${key}`);
    if (val === null) {
      if (i + 1 >= argv.length) usage(`--${key} needs a value`);
      val = argv[++i];
    }
    if (ints.has(key)) {
      if (!/^[0-9]+$/.test(val)) usage(`--${key} must be a whole number, not '${val}'`);
      a[key] = Number(val);
    } else {
      a[key] = val;
    }
  }
  if (a.mode !== 'infer') usage(`--mode ${a.mode}: onnxruntime-node has no training here, only --mode infer`);
  if (!a.model) usage('--model PATH (an ONNX file from bench/onnx_export.py) is required');
  if (a.batch < 1 || a.iters < 1 || a.classes < 1 || a.size < 32 || a.threads < 1) {
    usage('need --batch >= 1, --iters >= 1, --classes >= 1, --size >= 32, --threads >= 1');
  }
  return a;
}

function loadOrt() {
  const where = process.env.ORT_DIR ? path.resolve(process.env.ORT_DIR, 'node_modules', 'onnxruntime-node')
                                    : 'onnxruntime-node';
  try {
    return require(where);
  } catch (e) {
    process.stderr.write(`bench/nn_ort.js: cannot load ${where}: ${e.message.split('\n')[0]}\n`);
    process.exit(3);
  }
}

function median(xs) {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(a.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const n = a.batch * 3 * a.size * a.size;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = 2 * Math.random() - 1;
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [a.batch, 3, a.size, a.size]) };
  const outName = session.outputNames[0];

  const step = async () => {
    const out = await session.run(feeds);
    const dims = out[outName].dims;
    if (dims[0] !== a.batch || dims[1] !== a.classes) {
      usage(`${a.model} gives output [${dims}], not [${a.batch},${a.classes}] (--classes?)`);
    }
  };
  const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
  if (a.verbose) process.stderr.write(`onnxruntime-node ${ort.env.versions.node}, ${a.threads} intra-op threads\n`);
  for (let i = 0; i < a.warmup; i++) {
    const t0 = process.hrtime.bigint();
    await step();
    if (a.verbose) process.stderr.write(`warm-up ${i + 1}: ${ms(t0).toFixed(1)} ms\n`);
  }
  const times = [];
  for (let i = 0; i < a.iters; i++) {
    const t0 = process.hrtime.bigint();
    await step();
    times.push(ms(t0));
    if (a.verbose) process.stderr.write(`iteration ${i + 1}: ${times[i].toFixed(1)} ms\n`);
  }
  const med = median(times);
  const peakMib = process.resourceUsage().maxRSS / 1024; // KiB on Linux
  process.stdout.write(`bench nn: impl=onnxruntime arch=${a.arch} mode=${a.mode} batch=${a.batch} ` +
                       `images/s=${(1e3 * a.batch / med).toFixed(1)} ms/batch=${med.toFixed(1)} ` +
                       `peak_rss_mib=${peakMib.toFixed(0)}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench/nn_ort.js: ${e.message}\n`);
  process.exit(1);
});
