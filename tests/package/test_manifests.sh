#!/bin/bash
# The Kubernetes manifests (deploy/kubernetes/), validated offline: no
# cluster is available here, so nothing is applied (docs/operations.md says
# what was and was not run on a real cluster).
#  1. `kubectl kustomize` renders them;
#  2. every object validates against the Kubernetes API schemas of the npm
#     package kubernetes-models (types, enums, required fields), and
#     `tsc --strict` on the objects typed with its interfaces rejects any
#     unknown field;
#  3. the ConfigMap's vigil.yaml passes `vigild --check`;
#  4. the properties the deployment relies on hold: host network and PID
#     namespace, capabilities dropped to vigild's set, only the bpffs init
#     container privileged, node-critical priority, probes on /healthz and
#     /readyz at the metrics port, scrape annotations, an update that never
#     runs two vigild on one node, the image of this version.
# npm packages (versions locked in tests/package/k8s/package-lock.json) go
# to $BUILD/k8s-validate.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build}
[[ $build == /* ]] || build=$root/$build
mods=$build/k8s-validate
tmp=$(mktemp -d /tmp/vigil-test-manifests.XXXXXX)
trap 'rm -rf -- "$tmp"' EXIT
fail() { echo "FAIL test_manifests: $*" >&2; exit 1; }

mkdir -p "$mods"
cp "$root"/tests/package/k8s/package{,-lock}.json "$mods/"
(cd "$mods" && npm ci --no-audit --no-fund --silent) || fail "npm ci of the validators failed"
export NODE_MODULES=$mods/node_modules

kubectl kustomize "$root/deploy/kubernetes" >"$tmp/all.yaml" || fail "kubectl kustomize failed"
TS_OUT=$tmp/objects.mts node "$root/tests/package/k8s/validate.mjs" "$tmp/all.yaml" ||
	fail "schema validation failed"
"$NODE_MODULES/.bin/tsc" --strict --noEmit --skipLibCheck --module node16 \
	--moduleResolution node16 "$tmp/objects.mts" || fail "unknown fields (tsc above)"

node -e 'const y = require(process.env.NODE_MODULES + "/js-yaml");
	const fs = require("fs");
	console.log(JSON.stringify(y.loadAll(fs.readFileSync(process.argv[1], "utf8"))));' \
	"$tmp/all.yaml" >"$tmp/all.json"
jq -r '.[] | select(.kind == "ConfigMap") | .data["vigil.yaml"]' "$tmp/all.json" >"$tmp/vigil.yaml"
# lb.cgroup is checked against this host: nodes with only cgroup2 mount it at
# /sys/fs/cgroup, this test VM (hybrid) elsewhere.
cg2=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
[[ -n $cg2 ]] || fail "no cgroup2 mount on this host to check lb.cgroup against"
grep -q '^  cgroup: /sys/fs/cgroup$' "$tmp/vigil.yaml" || fail "the ConfigMap's lb.cgroup is not /sys/fs/cgroup"
sed -i "s|^  cgroup: /sys/fs/cgroup\$|  cgroup: $cg2|" "$tmp/vigil.yaml"
chmod 600 "$tmp/vigil.yaml"
"$build/vigild" --check -c "$tmp/vigil.yaml" || fail "the ConfigMap's vigil.yaml does not pass vigild --check"

version=$("$build/vigild" --version | awk '{ print $2 }')
ds=$(jq '.[] | select(.kind == "DaemonSet")' "$tmp/all.json")
check() { # DESCRIPTION JQ-EXPRESSION (true when the property holds)
	[[ $(jq -r "$2" <<<"$ds") == true ]] || fail "DaemonSet: $1 ($2)"
}
pod='.spec.template.spec'
vigild_c="$pod.containers[] | select(.name == \"vigild\")"
check "host network and PID namespace" "$pod.hostNetwork and $pod.hostPID"
check "node-critical priority" "$pod.priorityClassName == \"system-node-critical\""
check "capabilities: drop ALL, add vigild's set" \
	"[$vigild_c | .securityContext.capabilities | (.drop == [\"ALL\"]), (.add | sort == [\"BPF\",\"NET_ADMIN\",\"PERFMON\",\"SYS_ADMIN\",\"SYS_NICE\",\"SYS_PTRACE\"])] | all"
check "vigild not privileged, no privilege escalation" \
	"$vigild_c | (.securityContext.privileged == false and .securityContext.allowPrivilegeEscalation == false)"
check "only the init container is privileged" \
	"[$pod.initContainers[] | .securityContext.privileged] == [true]"
check "bpffs: Bidirectional in the init container, HostToContainer in vigild" \
	"([$pod.initContainers[].volumeMounts[] | select(.mountPath == \"/sys/fs/bpf\") | .mountPropagation] == [\"Bidirectional\"]) and ([$vigild_c | .volumeMounts[] | select(.mountPath == \"/sys/fs/bpf\") | .mountPropagation] == [\"HostToContainer\"])"
check "cgroup2, /run/netns and /run/vigil from the host" \
	"[$pod.volumes[] | .hostPath.path] | contains([\"/sys/fs/bpf\", \"/sys/fs/cgroup\", \"/run/netns\", \"/run/vigil\"])"
check "liveness on /healthz, readiness on /readyz" \
	"$vigild_c | (.livenessProbe.httpGet.path == \"/healthz\" and .readinessProbe.httpGet.path == \"/readyz\")"
check "probes and scrape annotation on the metrics port" \
	"($vigild_c | .livenessProbe.httpGet.port) as \$p | (.spec.template.metadata.annotations[\"prometheus.io/port\"] == (\$p | tostring)) and ($vigild_c | .readinessProbe.httpGet.port == \$p)"
check "the probes' port is the one metrics.listen binds" \
	"$vigild_c | .livenessProbe.httpGet.port == $(sed -n 's/^ *listen: .*:\([0-9]*\)$/\1/p' "$tmp/vigil.yaml")"
check "never two vigild on a node during an update" \
	".spec.updateStrategy.rollingUpdate.maxSurge == 0"
check "images of this version ($version)" \
	"[$pod.initContainers[], $pod.containers[] | .image == \"localhost/vigil:$version\"] | all"
echo "PASS test_manifests: $(jq length "$tmp/all.json") objects valid offline; config passes vigild --check"
