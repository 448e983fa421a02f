// Runs Hugging Face tokenizers (its native Node build) over a corpus, for the C++ tokenizer's
// tests and speed comparison.
//   node tokenizer_reference.js MODULE_DIR TOKENIZER_JSON CORPUS_JSON [--time ROUNDS]
// MODULE_DIR holds node_modules/@anush008/tokenizers. Without --time, prints one JSON array
// with, for each corpus string: ids and tokens with and without special tokens, and the decoded
// text of the ids with and without skipping special tokens, and of every other id. With --time, encodes every string
// ROUNDS times one call at a time and prints {"per_string_us", "batch_per_string_us"}.
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
  const [moduleDir, tokenizerPath, corpusPath, flag, rounds] = process.argv.slice(2);
  const { Tokenizer } = require(path.resolve(moduleDir, 'node_modules', '@anush008', 'tokenizers'));
  const tokenizer = Tokenizer.fromFile(tokenizerPath);
  const corpus = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));
  if (flag === '--time') {
    const n = Number(rounds);
    for (const s of corpus) await tokenizer.encode(s, null, { addSpecialTokens: true });  // warm-up
    let t0 = process.hrtime.bigint();
    for (let r = 0; r < n; r++) {
      for (const s of corpus) await tokenizer.encode(s, null, { addSpecialTokens: true });
    }
    const single = Number(process.hrtime.bigint() - t0) / 1e3 / (n * corpus.length);
    t0 = process.hrtime.bigint();
    for (let r = 0; r < n; r++) await tokenizer.encodeBatch(corpus, { addSpecialTokens: true });
    const batch = Number(process.hrtime.bigint() - t0) / 1e3 / (n * corpus.length);
    console.log(JSON.stringify({ per_string_us: single, batch_per_string_us: batch }));
    return;
  }
  const out = [];
  for (const s of corpus) {
    const e = await tokenizer.encode(s, null, { addSpecialTokens: true });
    const plain = await tokenizer.encode(s, null, { addSpecialTokens: false });
    const ids = e.getIds();
    out.push({
      ids: Array.from(ids),
      tokens: e.getTokens(),
      plain_ids: Array.from(plain.getIds()),
      decoded: await tokenizer.decode(Array.from(ids), false),
      decoded_skip: await tokenizer.decode(Array.from(ids), true),
      // Every other id: byte tokens split mid-character, so invalid UTF-8 must decode alike.
      decoded_alternate: await tokenizer.decode(Array.from(ids).filter((_, i) => i % 2 === 0), false),
    });
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
