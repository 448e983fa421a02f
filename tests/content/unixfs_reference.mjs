// The reference CID of a file or folder from ipfs-unixfs-importer (the JavaScript UnixFS
// importer), with kubo's default settings for `ipfs add` (its unixfs-v0-2015 profile: 256 KiB
// chunks, balanced DAG of 174 links) and `ipfs add --cid-version 1` (raw leaves).
// A folder is added as `ipfs add -r` does: every entry but hidden ones, the folder as the root.
//
// Usage: node unixfs_reference.mjs NODE_MODULES_DIR CID_VERSIONS PATH...
// CID_VERSIONS is 0, 1 or 0,1; prints each path's root CID on a line of its own, for each version
// in turn (one process for both saves a Node.js start).
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [, , modules, versions, ...paths] = process.argv
const pkgDir = join(modules, 'ipfs-unixfs-importer')
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'))
const { importer } = await import(pathToFileURL(join(pkgDir, pkg.exports['.'].import)).href)

// Only the CIDs are wanted: blocks are dropped.
const blockstore = { put: async (cid) => cid }

function * entries (p, rel) {
  if (!statSync(p).isDirectory()) {
    yield { path: rel, content: createReadStream(p) }
    return
  }
  yield { path: rel } // a folder of its own, so an empty one is kept
  for (const name of readdirSync(p).sort()) {
    if (!name.startsWith('.')) yield * entries(join(p, name), `${rel}/${name}`)
  }
}

for (const version of versions.split(',')) {
  const options = {
    profile: 'unixfs-v0-2015',
    cidVersion: Number(version),
    rawLeaves: version === '1'
  }
  for (const path of paths) {
    let root
    for await (const entry of importer(entries(path, basename(path)), blockstore, options)) root = entry
    console.log(root.cid.toString())
  }
}
