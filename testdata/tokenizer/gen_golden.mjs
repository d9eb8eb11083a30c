#!/usr/bin/env node
// Generates golden_corpus.jsonl.gz: texts with GPT-2 reference ids from
// js-tiktoken 1.0.21 r50k_base (== GPT-2), special markers as plain text.
// Run once; the Go tests only read its output and never need node.
//
//   cp ../shared/ref/package.json /tmp/tokref && (cd /tmp/tokref && npm install)
//   NODE_PATH=/tmp/tokref/node_modules node testdata/tokenizer/gen_golden.mjs \
//     ../shared/pii/synthetic_dev.jsonl ../shared/pii/presidio_cases.jsonl \
//     ../shared/ref/README.md ../shared/pii/README.md ../shared/STYLE.md \
//     internal/*/*.go /usr/share/i18n/locales/{hi_IN,ta_IN,bn_IN,zh_CN,ja_JP,ko_KR,ar_SA,ru_RU}
//
// Kinds: "line" (single lines), "para" (blank-line separated paragraphs),
// "chunk" (16 KB pieces of everything concatenated), "stress" (seeded random
// mixes of scripts, white-space runs, digits, punctuation, contractions and
// emoji). U+0085 and U+FEFF are left out: JavaScript's \s disagrees with
// Unicode White_Space (and with tiktoken proper) on exactly those two; the
// Go tests check them against the Python reference instead.
import { createRequire } from "node:module";
import fs from "node:fs";
import zlib from "node:zlib";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH || "/tmp/tokref/node_modules", "x.js"));
const { Tiktoken } = require("js-tiktoken/lite");
const r50k = require("js-tiktoken/ranks/r50k_base");
const enc = new Tiktoken(r50k.default || r50k);
const encode = (t) => enc.encode(t, [], []);

let seed = 20261128;
function rnd() { // mulberry32
  seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];
const clean = (s) => s.replace(/[\u0085\ufeff]/g, " ");

// Gather texts.
const docs = [];
for (const f of process.argv.slice(2)) {
  const raw = fs.readFileSync(f, "utf8");
  if (f.endsWith(".jsonl")) {
    for (const l of raw.split("\n")) if (l.trim()) docs.push(JSON.parse(l).text);
  } else if (f.includes("/locales/")) {
    // glibc locale data writes native names as <Uxxxx> sequences.
    for (const m of raw.matchAll(/"((?:<U[0-9A-F]{4,5}>|[ -~])+)"/g)) {
      const s = m[1].replace(/<U([0-9A-F]{4,5})>/g, (_, h) => String.fromCodePoint(parseInt(h, 16)));
      if (/[^\x00-\x7f]/.test(s)) docs.push(s);
    }
  } else docs.push(raw);
}
const all = clean(docs.join("\n\n"));

const out = [];
const add = (kind, text) => { if (text.length) out.push({ kind, text, ids: encode(text) }); };

// Lines: every 7th non-empty line, whole.
const lines = all.split("\n").filter((l) => l.trim());
for (let i = 0; i < lines.length; i += 7) add("line", lines[i]);
// Paragraphs: every 5th.
const paras = all.split(/\n\s*\n/);
for (let i = 0; i < paras.length; i += 5) add("para", paras[i]);
// 16 KB chunks (cut at code point boundaries), a few spread over the text.
const cps = Array.from(all);
for (let k = 0; k < 6; k++) {
  const start = Math.floor((k * cps.length) / 6);
  let s = "";
  for (let i = start; i < cps.length && s.length < 16384; i++) s += cps[i];
  add("chunk", s);
}
// Stress texts.
const words = all.split(/\s+/).filter((w) => w && w.length < 30);
const spaces = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\n ", " \t ", "\u00a0", " \u00a0", "\u2009", "\u202f", "\u3000", "\u2028", "\u000b", "\f", "        "];
const puncts = ["!", "?!", "...", "---", "----------", "____", "==", "//", "/*", "*/", "(", "))", "[]", "{}", "\"", "'", "''", "`", "~", "@", "#", "$", "%", "^&*", "<|endoftext|>", "<|im_start|>", "\u2014", "\u2019", "\u00ab", "\u00bb", "\u20b9", "\u0964"];
const numbers = () => pick([String(Math.floor(rnd() * 10 ** Math.floor(rnd() * 14))), "2000", "0777", "1,99,432", "3.14159", "-42", "\u0967\u0968\u0969", "\u00bd", "\u2460", "\u00b2\u00b3", "\u2167"]);
const contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'LL", "n't", "'x", "'"];
const emoji = ["\u{1f44d}", "\u{1f44d}\u{1f3fd}", "\u{1f1ee}\u{1f1f3}", "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}", "\u2764\ufe0f", "\u{1f600}\u{1f600}", "\u200b", "\u200d", "e\u0301", "\u0928\u094d\u0928"];
const blocks = [[0x0041, 0x024f], [0x0370, 0x03ff], [0x0400, 0x04ff], [0x0590, 0x05ff], [0x0600, 0x06ff], [0x0900, 0x097f], [0x0980, 0x09ff], [0x0b80, 0x0bff], [0x0c00, 0x0c7f], [0x0e00, 0x0e7f], [0x3040, 0x30ff], [0x4e00, 0x9fa5], [0xac00, 0xd7a3], [0x2000, 0x206f], [0x2190, 0x23ff], [0x0300, 0x036f], [0x0000, 0x007f]];
const randChar = () => {
  for (;;) {
    const [a, b] = pick(blocks);
    const c = a + Math.floor(rnd() * (b - a + 1));
    if (c === 0x85 || c === 0xfeff) continue;
    return String.fromCodePoint(c);
  }
};
for (let n = 0; n < 600; n++) {
  let s = "";
  const parts = 2 + Math.floor(rnd() * 30);
  for (let p = 0; p < parts; p++) {
    const r = rnd();
    if (r < 0.3) s += pick(words);
    else if (r < 0.5) s += pick(spaces);
    else if (r < 0.6) s += pick(puncts);
    else if (r < 0.7) s += numbers();
    else if (r < 0.78) s += pick(contractions);
    else if (r < 0.85) s += pick(emoji);
    else { const k = 1 + Math.floor(rnd() * 5); for (let i = 0; i < k; i++) s += randChar(); }
  }
  add("stress", s);
}

const jsonl = out.map((o) => JSON.stringify(o)).join("\n") + "\n";
const dest = path.join(path.dirname(new URL(import.meta.url).pathname), "golden_corpus.jsonl.gz");
fs.writeFileSync(dest, zlib.gzipSync(jsonl, { level: 9 }));
const kinds = {};
for (const o of out) kinds[o.kind] = (kinds[o.kind] || 0) + 1;
console.error(`${out.length} cases (${JSON.stringify(kinds)}), ${all.length} chars of source, ${jsonl.length} bytes of JSONL -> ${dest}`);
