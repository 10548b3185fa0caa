// BullMQ interoperability check (run by scripts/interop).
//
//   NODE_PATH=<dir>/node_modules node scripts/interop_bullmq.js PORT
//
// BullMQ keeps every queue operation in Lua scripts (moving jobs between lists, sorted
// sets and hashes atomically) and publishes job events to a stream that QueueEvents reads
// with XREAD BLOCK. The check adds jobs, lets a Worker process them (one succeeds, one
// throws), and waits for QueueEvents to report both outcomes. Every wait is bounded.
"use strict";

const { Queue, Worker, QueueEvents } = require("bullmq");

const port = Number(process.argv[2]);
if (!port) {
  console.error("usage: interop_bullmq.js PORT");
  process.exit(2);
}
const connection = { host: "127.0.0.1", port, maxRetriesPerRequest: null };
const name = `interop-${process.pid}`;

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function main() {
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  await withTimeout(events.waitUntilReady(), 10000, "QueueEvents ready");
  const completed = new Promise((resolve) => events.on("completed", (e) => resolve(e)));
  const failed = new Promise((resolve) => events.on("failed", (e) => resolve(e)));
  const worker = new Worker(
    name,
    async (job) => {
      if (job.name === "bad") throw new Error("boom");
      return { sum: job.data.a + job.data.b };
    },
    { connection },
  );
  const good = await queue.add("add", { a: 20, b: 22 });
  const bad = await queue.add("bad", {}, { attempts: 1 });
  console.log(`ok    added jobs ${good.id} and ${bad.id} to queue ${name}`);
  const done = await withTimeout(completed, 20000, "the completed event");
  if (done.jobId !== good.id) throw new Error(`completed event for job ${done.jobId}, expected ${good.id}`);
  const value = typeof done.returnvalue === "string" ? JSON.parse(done.returnvalue) : done.returnvalue;
  if (!value || value.sum !== 42) throw new Error(`return value ${JSON.stringify(done.returnvalue)}`);
  console.log(`ok    QueueEvents saw job ${good.id} completed with ${JSON.stringify(value)}`);
  const fail = await withTimeout(failed, 20000, "the failed event");
  if (fail.jobId !== bad.id || !String(fail.failedReason).includes("boom")) {
    throw new Error(`failed event ${JSON.stringify(fail)}`);
  }
  console.log(`ok    QueueEvents saw job ${bad.id} failed: ${fail.failedReason}`);
  const counts = await queue.getJobCounts("completed", "failed", "waiting", "active");
  if (counts.completed !== 1 || counts.failed !== 1 || counts.waiting !== 0 || counts.active !== 0) {
    throw new Error(`job counts ${JSON.stringify(counts)}`);
  }
  console.log(`ok    job counts ${JSON.stringify(counts)}`);
  await worker.close();
  await events.close();
  await queue.obliterate({ force: true });
  await queue.close();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.log(`FAIL  ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  },
);
