// Parses a GGUF file with Hugging Face's parser (@huggingface/gguf) and
// renders its tokenizer.chat_template with @huggingface/jinja, for
// internal/gguf's integration test: node hfgguf.mjs NODE_MODULES FILE MESSAGES_JSON
// Prints one JSON object: typed metadata (arrays as length, first, last),
// tensor infos, the data offset and the rendered chat prompt.
import path from "node:path";
import { pathToFileURL } from "node:url";

const [nm, file, messagesJSON] = process.argv.slice(2);
const imp = (p) => import(pathToFileURL(path.join(nm, p)).href);
const { gguf } = await imp("@huggingface/gguf/dist/index.mjs");
const { Template } = await imp("@huggingface/jinja/dist/index.js");

const res = await gguf(file, { allowLocalFile: true, typedMetadata: true });
const plain = (v) => (typeof v === "bigint" ? Number(v) : v);
const meta = {};
for (const [k, tv] of Object.entries(res.typedMetadata)) {
  if (k === "version" || k === "tensor_count" || k === "kv_count") continue;
  if (Array.isArray(tv.value)) {
    meta[k] = { type: tv.type, subType: tv.subType, length: tv.value.length, first: plain(tv.value[0]), last: plain(tv.value[tv.value.length - 1]) };
  } else {
    meta[k] = { type: tv.type, value: plain(tv.value) };
  }
}
const out = {
  version: plain(res.metadata.version),
  tensor_count: plain(res.metadata.tensor_count),
  kv_count: plain(res.metadata.kv_count),
  metadata: meta,
  tensors: res.tensorInfos.map((t) => ({ name: t.name, shape: t.shape.map(Number), dtype: t.dtype, offset: Number(t.offset) })),
  data_offset: Number(res.tensorDataOffset),
};
const tmpl = res.metadata["tokenizer.chat_template"];
if (tmpl) {
  out.chat = new Template(tmpl).render({ messages: JSON.parse(messagesJSON), add_generation_prompt: true });
}
process.stdout.write(JSON.stringify(out) + "\n");
