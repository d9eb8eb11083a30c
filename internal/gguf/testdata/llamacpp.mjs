// Loads a GGUF file with llama.cpp (through the npm package node-llama-cpp,
// prebuilt, CPU only, nothing downloaded) and reports what llama.cpp makes of
// it, for internal/gguf's integration test:
//   node llamacpp.mjs REQUEST.json
// REQUEST: {"node_modules": dir holding node-llama-cpp, "model": path.gguf,
//   "context": n, "prompt": [token ids], "greedy": n tokens to generate
//   after "greedy_prompt" (default: prompt),
//   "logits_out": path for float32 logits [len(prompt), vocab],
//   "tokenize": [strings], "bench": n tokens to time (0: none),
//   "threads": llama.cpp threads (default 1: on a busy machine a second
//   thread spinning at llama.cpp's barriers slows it down)}
// Prints one JSON object on stdout.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const req = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const entry = path.join(req.node_modules, "node-llama-cpp", "dist", "index.js");
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);

const llama = await getLlama({
  gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true,
  progressLogs: false, logLevel: LlamaLogLevel.error,
});
const t0 = performance.now();
const model = await llama.loadModel({ modelPath: req.model });
const loadMs = performance.now() - t0;
const out = { load_ms: loadMs };

out.tokenized = (req.tokenize || []).map((s) => Array.from(model.tokenize(s, false)));
// With special tokens enabled, <|endoftext|> is one token only when the
// file marks it a control token (tokenizer.ggml.token_type).
out.special_eot = Array.from(model.tokenize("<|endoftext|>", true));
// A control token has no text when special tokens are not rendered.
out.eos_piece = model.detokenize([model.tokens.eos], false);
out.bos = model.tokens.bos;
out.eos = model.tokens.eos;

const context = await model.createContext({ contextSize: req.context, batchSize: req.context, threads: req.threads || 1 });
const seq = context.getSequence();

// Logits after every prompt token.
if (req.logits_out) {
  const items = req.prompt.map((t) => [t, { generateNext: { logits: true } }]);
  const res = await seq.controlledEvaluate(items);
  const V = req.vocab;
  const buf = new Float32Array(req.prompt.length * V);
  res.forEach((r, i) => {
    for (const [tok, logit] of r.next.logits) buf[i * V + tok] = logit;
  });
  fs.writeFileSync(req.logits_out, Buffer.from(buf.buffer));
  await seq.clearHistory();
}

// Greedy continuation.
if (req.greedy > 0) {
  const gen = [];
  for await (const tok of seq.evaluate(req.greedy_prompt || req.prompt, { temperature: 0 })) {
    gen.push(tok);
    if (gen.length >= req.greedy) break;
  }
  out.greedy = gen;
  await seq.clearHistory();
}

// Generation speed: per-token times after the prompt, greedy, no stop. The
// median and best are reported because a shared machine's load makes the
// mean meaningless.
if (req.bench > 0) {
  const times = [];
  const pStart = performance.now();
  let last = 0;
  for await (const tok of seq.evaluate(req.prompt, { temperature: 0 })) {
    const now = performance.now();
    if (last === 0) out.prompt_ms = now - pStart;
    else times.push(now - last);
    last = now;
    if (times.length >= req.bench) break;
  }
  times.sort((a, b) => a - b);
  out.bench_tokens = times.length;
  out.bench_median_ms = times[Math.floor(times.length / 2)];
  out.bench_best_ms = times[0];
  out.bench_tokens_per_s = 1000 / out.bench_median_ms;
}

await context.dispose();
await model.dispose();
await llama.dispose();
process.stdout.write(JSON.stringify(out) + "\n");
