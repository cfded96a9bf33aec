// Validate Kubernetes manifests offline against the API schemas shipped in
// the npm package kubernetes-models (generated from Kubernetes' OpenAPI
// spec): every document of every file is built as its kind's model and
// validated (unknown fields, wrong types and missing required fields fail).
// The schemas do not reject unknown fields, so with TS_OUT=FILE every
// document is also written as a TypeScript object literal typed with its
// kind's interface from the same package: `tsc --strict --noEmit FILE`
// then fails on any field the API does not have (excess property check).
// Usage: NODE_MODULES=DIR [TS_OUT=FILE] node validate-k8s.mjs FILE...
// (DIR holds kubernetes-models and js-yaml); exit 1 on the first invalid
// document.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const modules = process.env.NODE_MODULES;
const require = createRequire(modules + "/");
const yaml = require("js-yaml");

async function modelFor(doc) {
  const [group, version] = doc.apiVersion.includes("/")
    ? doc.apiVersion.split("/") : ["", doc.apiVersion];
  if (group.endsWith("kustomize.config.k8s.io")) return null;
  const file = `${modules}/kubernetes-models/${group ? group + "/" : ""}${version}/index.js`;
  const api = existsSync(file) ? await import(pathToFileURL(file)) : {};
  if (!api[doc.kind]) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  return api[doc.kind];
}

let checked = 0;
const ts = [];
for (const file of process.argv.slice(2)) {
  for (const doc of yaml.loadAll(readFileSync(file, "utf8"))) {
    if (!doc) continue;
    const cls = await modelFor(doc);
    if (!cls) continue;
    try {
      new cls(doc).validate();
    } catch (err) {
      console.error(`${file}: ${doc.kind} ${doc.metadata?.name}: ${err.message}`);
      process.exit(1);
    }
    const [group, version] = doc.apiVersion.includes("/")
      ? doc.apiVersion.split("/") : ["", doc.apiVersion];
    const mod = `${modules}/kubernetes-models/${group ? group + "/" : ""}${version}/${doc.kind}.js`;
    ts.push(`import type { I${doc.kind} as T${checked} } from ${JSON.stringify(mod)};`,
            `export const o${checked}: T${checked} = ${JSON.stringify(doc)};`);
    checked++;
  }
}
if (process.env.TS_OUT) writeFileSync(process.env.TS_OUT, ts.join("\n") + "\n");
console.log(`valid: ${checked} objects`);
