// First step of the lexicon build (see NOTICE): export faker's locale name lists.
import * as f from './faker-js-faker-10.6.0/package/dist/index.js';
const out = {};
for (const loc of ['en_IN','en','en_US','en_GB','en_AU','en_CA','de','fr','es','it','pt_BR','nl','ar','ur','bn_BD','ne','pl','ru','tr','sv','ko','ja','zh_CN']) {
  const d = f[loc]; if (!d || !d.person) { console.error('no',loc); continue; }
  const p = d.person;
  const fn = p.first_name; const ln = p.last_name;
  const flat = x => !x ? [] : Array.isArray(x) ? x : Object.values(x).flat();
  const lnflat = x => !x ? [] : Array.isArray(x) ? x : Object.values(x).flat().map(e=>typeof e==='string'?e:e.value);
  out[loc] = {first: flat(fn), last: lnflat(ln)};
  console.error(loc, out[loc].first.length, out[loc].last.length);
}
import fs from 'fs';
fs.writeFileSync('faker.json', JSON.stringify(out));
