// The browser side of ipfs-accelerate's browser backend. The tool serves this page, the model
// and onnxruntime-web on a loopback port; the page reads GET /job, creates one session and then
// does what GET /command says until told to close. Tensors travel as an envelope: a 4-byte
// little-endian header length, the JSON header, then each tensor's raw little-endian bytes.

const post = (path, body, type = 'application/json') =>
  fetch(path, { method: 'POST', headers: { 'Content-Type': type }, body });

function errorText(e) {
  if (e instanceof Error || (e && e.name && e.message)) return `${e.name}: ${e.message}`;
  return String(e);
}

const ARRAYS = {
  float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array,
  int16: Int16Array, int8: Int8Array, uint8: Uint8Array, bool: Uint8Array, float16: Uint16Array,
};

function decodeEnvelope(buffer) {
  const headerLength = new DataView(buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, headerLength)));
  const base = 4 + headerLength;
  const tensors = {};
  for (const t of header.tensors || []) {
    const Array = ARRAYS[t.dtype];
    if (!Array) throw new Error(`dtype ${t.dtype} is not supported by onnxruntime-web`);
    const bytes = buffer.slice(base + t.offset, base + t.offset + t.length);  // aligned copy
    tensors[t.name] = { dtype: t.dtype, shape: t.shape, data: new Array(bytes) };
  }
  return { header, tensors };
}

function encodeEnvelope(header, outputs) {
  const parts = [];
  let offset = 0;
  header.tensors = [];
  for (const [name, t] of Object.entries(outputs || {})) {
    const data = t.data;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    header.tensors.push({ name, dtype: t.type, shape: t.dims, offset, length: bytes.length });
    parts.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, json.length, true);
  return new Blob([length, json, ...parts]);
}

async function adapterInfo() {
  if (!navigator.gpu) return { available: false, error: 'navigator.gpu is not defined' };
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return { available: false, error: 'navigator.gpu.requestAdapter() returned null' };
    const info = adapter.info || {};
    return {
      available: true, vendor: info.vendor || '', architecture: info.architecture || '',
      description: info.description || '', device: info.device || '',
      is_fallback: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
    };
  } catch (e) {
    return { available: false, error: errorText(e) };
  }
}

async function webnnInfo(deviceType) {
  if (!navigator.ml) return { available: false, error: 'navigator.ml is not defined' };
  try {
    await navigator.ml.createContext({ deviceType });
    return { available: true, device_type: deviceType };
  } catch (e) {
    return { available: false, device_type: deviceType, error: errorText(e) };
  }
}

function environment() {
  return {
    user_agent: navigator.userAgent, cross_origin_isolated: self.crossOriginIsolated === true,
    hardware_concurrency: navigator.hardwareConcurrency || 0,
  };
}

async function probe(job) {
  await post('/ready', JSON.stringify({
    ...environment(), webgpu: await adapterInfo(), webnn: await webnnInfo(job.webnn_device_type || 'cpu'),
  }));
}

function specs(metadata, names) {
  return names.map((name) => {
    const m = (metadata || []).find((x) => x.name === name) || {};
    return { name, dtype: m.type || '', shape: m.shape || [] };
  });
}

function sessionOptions(job) {
  const provider = job.platform === 'webnn'
    ? { name: 'webnn', deviceType: job.webnn_device_type || 'cpu' }
    : job.platform;
  return { executionProviders: [provider], graphOptimizationLevel: job.graph_optimization_level || 'all' };
}

async function open(job) {
  const ort = await import('/ort/ort.min.mjs');
  ort.env.wasm.wasmPaths = '/ort/';
  ort.env.wasm.numThreads = job.threads || 0;  // 0: onnxruntime-web's default
  ort.env.wasm.proxy = false;
  const t0 = performance.now();
  const session = await ort.InferenceSession.create('/model.onnx', sessionOptions(job));
  const loadMs = performance.now() - t0;
  return {
    ort, session,
    ready: {
      ...environment(), load_ms: loadMs, ort_version: ort.env.versions?.web || '',
      threads: ort.env.wasm.numThreads || 1,
      adapter: job.platform === 'webgpu' ? await adapterInfo() : null,
      inputs: specs(session.inputMetadata, session.inputNames),
      outputs: specs(session.outputMetadata, session.outputNames),
    },
  };
}

function feeds(ort, tensors) {
  const out = {};
  for (const [name, t] of Object.entries(tensors))
    out[name] = t instanceof ort.Tensor ? t : new ort.Tensor(t.dtype, t.data, t.shape);
  return out;
}

// State kept between runs (decoding, training steps): the outputs of the last kept run, and the
// changes the tool queued since its last command, applied in order before this one: 'set'
// replaces a bound input by a tensor of this envelope, 'move' binds a kept output as an input.
function applyPending(state, pending, tensors) {
  for (const change of pending || []) {
    if (change.op === 'set') {
      state.bound[change.name] = tensors[change.name];
    } else if (change.op === 'move') {
      const t = state.kept[change.from];
      if (!t) throw new Error(`output '${change.from}' is not kept from a previous run`);
      state.bound[change.to] = t;
      delete state.kept[change.from];
    } else {
      throw new Error(`unknown change '${change.op}'`);
    }
  }
}

// The kept outputs a reply brings: those small enough (a training step's loss) and those the
// tool reads after every run (a decoder's logits).
const SMALL_OUTPUT_ELEMENTS = 64;
function sentOutputs(kept, names) {
  return Object.fromEntries(Object.entries(kept).filter(
    ([name, t]) => t.size <= SMALL_OUTPUT_ELEMENTS || (names || []).includes(name)));
}

// One run on fresh tensors over `tensors`, timed around session.run(); outputs are dropped.
async function timedRun(ort, session, tensors) {
  const f = feeds(ort, tensors);
  const t0 = performance.now();
  const result = await session.run(f);
  const ms = performance.now() - t0;
  for (const t of Object.values(result)) t.dispose?.();
  return ms;
}

async function loop(job, ort, session) {
  const state = { bound: null, kept: {} };
  let warmed = false;
  let faults = job.test_fault || '';
  for (;;) {
    const response = await fetch('/command');
    if (response.status === 204) continue;  // the long poll ran out: ask again
    const { header, tensors } = decodeEnvelope(await response.arrayBuffer());
    const reply = { id: header.id, ok: true };
    let outputs = null;
    try {
      if (faults === 'hang' && header.op !== 'close') for (;;) {}  // tests: a page that hangs
      if (header.op === 'run') {
        outputs = await session.run(feeds(ort, tensors));
      } else if (header.op === 'bind') {
        state.bound = tensors;
        if (job.warmup && !warmed) {  // one run on the real shapes before any timed one
          reply.warmup_ms = await timedRun(ort, session, state.bound);
          warmed = true;
        }
      } else if (header.op === 'run_bound_timed') {
        if (!state.bound) throw new Error('run_bound_timed before bind');
        applyPending(state, header.pending, tensors);
        reply.ms = await timedRun(ort, session, state.bound);
      } else if (header.op === 'run_bound_keep') {
        if (!state.bound) throw new Error('run_bound_keep before bind');
        applyPending(state, header.pending, tensors);
        const f = feeds(ort, state.bound);
        const t0 = performance.now();
        state.kept = await session.run(f);
        reply.ms = performance.now() - t0;
        outputs = sentOutputs(state.kept, header.send);
      } else if (header.op === 'fetch') {
        outputs = {};
        for (const name of header.names) {
          if (!state.kept[name]) throw new Error(`output '${name}' is not kept from a previous run`);
          outputs[name] = state.kept[name];
        }
      } else if (header.op === 'time_loading') {  // sessions for several models, timed
        const create = (url) => ort.InferenceSession.create(url, sessionOptions(job));
        const t0 = performance.now();
        let sessions = [];
        if (header.concurrent) sessions = await Promise.all(header.urls.map(create));
        else for (const url of header.urls) sessions.push(await create(url));
        reply.ms = performance.now() - t0;
        for (const s of sessions) await s.release();
      } else if (header.op === 'close') {
        await session.release();
        await post('/result', encodeEnvelope(reply), 'application/octet-stream');
        return;
      } else {
        throw new Error(`unknown command '${header.op}'`);
      }
    } catch (e) {
      reply.ok = false;
      reply.error = errorText(e);
      outputs = null;
    }
    await post('/result', encodeEnvelope(reply, outputs), 'application/octet-stream');
  }
}

async function main() {
  let job = null;
  try {
    job = await (await fetch('/job')).json();
    if (job.probe) return await probe(job);
    const { ort, session, ready } = await open(job);
    await post('/ready', JSON.stringify(ready));
    await loop(job, ort, session);
  } catch (e) {
    await post('/error', JSON.stringify({ message: errorText(e), ...environment() }));
  }
}

main();
