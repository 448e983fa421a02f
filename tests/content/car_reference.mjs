// CAR files through @ipld/car (the reference JavaScript CAR implementation), for the content
// layer's tests. Blocks are checked with multiformats' sha2-256.
//
// node car_reference.mjs NODE_MODULES_DIR read CAR
//   prints the roots on the first line (space-separated), then the CIDs of the blocks reachable
//   from them through dag-pb links, sorted; exits 1 naming a block whose bytes do not hash to
//   its CID, or a reachable block the CAR lacks.
// node car_reference.mjs NODE_MODULES_DIR write CID_VERSION PATH CAR
//   imports PATH with ipfs-unixfs-importer (kubo's defaults, as unixfs_reference.mjs) and writes
//   its blocks to CAR, root first; prints the root.
// node car_reference.mjs NODE_MODULES_DIR serve CID_VERSION PATH [tamper|wrong-root]
//   serves PATH's DAG as a trustless gateway on loopback (see serve below) until killed.
// node car_reference.mjs NODE_MODULES_DIR raw-cid FILE
//   prints the CIDv1 of FILE's bytes as one raw block (codec raw, sha2-256).
import { createReadStream, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [, , modules, mode, ...args] = process.argv
async function load (pkg, sub = '.') {
  const dir = join(modules, pkg)
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  return import(pathToFileURL(join(dir, manifest.exports[sub].import)).href)
}
const { CarReader, CarWriter } = await load('@ipld/car')
const { sha256 } = await load('multiformats', './hashes/sha2')
const dagPb = await load('@ipld/dag-pb')

function fail (message) {
  console.error(message)
  process.exit(1)
}

async function read (file) {
  const reader = await CarReader.fromBytes(readFileSync(file))
  const blocks = new Map()
  for await (const { cid, bytes } of reader.blocks()) {
    const digest = (await sha256.digest(bytes)).digest
    if (Buffer.compare(Buffer.from(digest), Buffer.from(cid.multihash.digest)) !== 0) {
      fail(`block ${cid} does not hash to its CID`)
    }
    blocks.set(cid.toString(), { cid, bytes })
  }
  const roots = (await reader.getRoots()).map(String)
  const reached = new Set()
  const stack = [...roots]
  while (stack.length > 0) {
    const key = stack.pop()
    if (reached.has(key)) continue
    const block = blocks.get(key)
    if (block === undefined) fail(`block ${key} is linked to but not in the CAR`)
    reached.add(key)
    if (block.cid.code === dagPb.code) {
      for (const link of dagPb.decode(block.bytes).Links) stack.push(link.Hash.toString())
    }
  }
  console.log(roots.join(' '))
  for (const cid of [...reached].sort()) console.log(cid)
}

function * entries (p, rel) {
  if (!statSync(p).isDirectory()) {
    yield { path: rel, content: createReadStream(p) }
    return
  }
  yield { path: rel }
  for (const name of readdirSync(p).sort()) {
    if (!name.startsWith('.')) yield * entries(join(p, name), `${rel}/${name}`)
  }
}

// PATH's blocks as ipfs-unixfs-importer makes them, and its root CID.
async function importPath (version, path) {
  const { importer } = await load('ipfs-unixfs-importer')
  const blocks = new Map()
  const blockstore = { put: async (cid, bytes) => { blocks.set(cid.toString(), { cid, bytes }); return cid } }
  const options = { profile: 'unixfs-v0-2015', cidVersion: Number(version), rawLeaves: version === '1' }
  let root
  for await (const entry of importer(entries(path, basename(path)), blockstore, options)) root = entry
  return { root: root.cid, blocks }
}

// A CAR of `blocks` with root `root`, the root's block first.
async function carBytes (root, blocks) {
  const { writer, out } = CarWriter.create([root])
  const chunks = []
  const collected = (async () => { for await (const c of out) chunks.push(c) })()
  await writer.put(blocks.get(root.toString()))
  for (const [key, block] of blocks) if (key !== root.toString()) await writer.put(block)
  await writer.close()
  await collected
  return Buffer.concat(chunks)
}

async function write (version, path, file) {
  const { root, blocks } = await importPath(version, path)
  writeFileSync(file, await carBytes(root, blocks))
  console.log(root.toString())
}

// A trustless gateway (specs.ipfs.tech/http-gateways/trustless-gateway) for PATH's DAG on a
// free loopback port: GET /ipfs/ROOT with ?format=car or Accept: application/vnd.ipld.car
// answers the CAR; another CID 404; no CAR asked for 406. `fault`: "tamper" flips a byte of the
// last non-root block (its CID printed second), "wrong-root" answers the CAR of the root's
// first link. Prints "ROOT PORT [TAMPERED]" once listening.
async function serve (version, path, fault) {
  const { createServer } = await import('node:http')
  const { root, blocks } = await importPath(version, path)
  let served = root
  let tampered = ''
  if (fault === 'tamper') {
    const last = [...blocks.keys()].filter((k) => k !== root.toString()).pop()
    const bytes = Uint8Array.from(blocks.get(last).bytes)
    bytes[bytes.length - 1] ^= 0x01
    blocks.set(last, { cid: blocks.get(last).cid, bytes })
    tampered = last
  } else if (fault === 'wrong-root') {
    served = dagPb.decode(blocks.get(root.toString()).bytes).Links[0].Hash
  }
  const car = await carBytes(served, blocks)
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://gateway')
    const asked = url.pathname.replace(/^\/ipfs\//, '')
    const wantsCar = url.searchParams.get('format') === 'car' ||
      (req.headers.accept ?? '').includes('application/vnd.ipld.car')
    if (!wantsCar) return res.writeHead(406).end('only CAR answers here\n')
    if (asked !== root.toString()) return res.writeHead(404).end(`no DAG for ${asked}\n`)
    res.writeHead(200, { 'Content-Type': 'application/vnd.ipld.car; version=1' }).end(car)
  })
  server.listen(0, '127.0.0.1', () => {
    console.log([root.toString(), server.address().port, tampered].join(' ').trim())
  })
}

async function rawCid (file) {
  const { CID } = await load('multiformats', './cid')
  const raw = await load('multiformats', './codecs/raw')
  console.log(CID.createV1(raw.code, await sha256.digest(readFileSync(file))).toString())
}

if (mode === 'read') await read(args[0])
else if (mode === 'raw-cid') await rawCid(args[0])
else if (mode === 'serve') await serve(args[0], args[1], args[2])
else await write(args[0], args[1], args[2])
