// The official Node SDK making the plugin's call against the local stand-in:
// N RerunTriggerWorkflowRunAsync requests one after the other, then one JSON
// line with the CPU time the process spent on them (startup excluded).
//   node rerun.js <secret id> <secret key> <project> <workflow> <n>
// The stand-in's CA comes in through NODE_EXTRA_CA_CERTS. The SDK signs for
// the service named by the endpoint's first label and signs the host name
// without a port, so the stand-in listens on 443 and the endpoint is
// "wedata.localhost", resolved to 127.0.0.1 by the agent (nothing leaves
// the machine); the stand-in's certificate is for 127.0.0.1, so the host
// name check is off for this local run (the CA check stays on).
"use strict";
const https = require("https");
const tencentcloud = require("tencentcloud-sdk-nodejs");

const agent = new https.Agent({
  keepAlive: true,
  lookup: (host, opts, cb) =>
    opts && opts.all
      ? cb(null, [{ address: "127.0.0.1", family: 4 }])
      : cb(null, "127.0.0.1", 4),
  checkServerIdentity: () => undefined,
});

async function main() {
  const [secretId, secretKey, project, workflow, n] = process.argv.slice(2);
  const endpoint = "wedata.localhost";
  const Client = tencentcloud.wedata.v20250806.Client;
  const client = new Client({
    credential: { secretId, secretKey },
    region: "ap-guangzhou",
    profile: { httpProfile: { endpoint, protocol: "https://", agent } },
  });
  const call = (i) =>
    client.RerunTriggerWorkflowRunAsync({
      ProjectId: project,
      WorkflowId: workflow,
      WorkflowExecutionId: `node-${process.pid}-${i}`,
      ExecuteType: "1",
    });
  await call(-1); // warm up: connection, TLS, JIT
  const start = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < Number(n); i++) await call(i);
  const cpu = process.cpuUsage(start);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ n: Number(n), cpu_s: (cpu.user + cpu.system) / 1e6, wall_s: wall }));
}

main().catch((e) => {
  console.error(e && e.message ? e.message : e);
  process.exit(1);
});
