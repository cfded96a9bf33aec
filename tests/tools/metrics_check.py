#!/usr/bin/env python3
"""Compare vigild's /metrics with what vigilctl says, for tests.

    metrics_check.py stats METRICS STATS_JSON
        every monitor figure of `vigilctl stats --json` (per backend, per
        local port, in-flight, loss, LRU fill) against its metric: counters
        equal, each latency histogram's cumulative buckets, count and sum
        (seconds, exactly sum_ns / 1e9)
    metrics_check.py state METRICS BACKENDS_JSON SERVICES_JSON EVENTS_NDJSON
        the failover state: per (service, backend) the state and admin
        state sets, the share of new connections, the ejections by rule
        (every ejection in `vigilctl events` since vigild started, by rule);
        per service the serving tier
    metrics_check.py xdp METRICS XDP_JSON
        the packet datapath's counters and drops of `vigilctl xdp --json`
    metrics_check.py series METRICS INSTANCE
        the samples as promtool input_series (YAML), constant for 30 minutes,
        with the labels a scrape by job "vigil" of INSTANCE adds, and its
        up series

Prints one line per check ("ok: ..." or "FAIL: ...") and exits 1 if any
check failed. The parser reads the text format vigild writes: HELP, TYPE and
"name{labels} value" lines.
"""
import json
import re
import sys

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
fails = 0


def parse(path):
    """{(name, frozenset(labels.items())): float}, plus the raw lines."""
    samples, raw = {}, []
    with open(path) as f:
        for line in f:
            line = line.rstrip('\n')
            if not line or line.startswith('#'):
                continue
            m = SAMPLE.match(line)
            if not m:
                sys.exit('unparsable line: %r' % line)
            labels = dict(LABEL.findall(m.group(2) or ''))
            samples[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
            raw.append((m.group(1), m.group(2) or '', m.group(3)))
    return samples, raw


def check(what, want, got, tol=0.0):
    global fails
    if got is not None and abs(float(want) - got) <= tol:
        print('ok: %s == %s' % (what, want))
        return
    print('FAIL: %s: vigilctl %s, /metrics %s' % (what, want, got))
    fails += 1


def get(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


BACKEND_COUNTERS = [
    ('connect_attempts', 'vigil_backend_connect_attempts_total', {}),
    ('established', 'vigil_backend_connections_established_total', {}),
    ('refused', 'vigil_backend_errors_total', {'kind': 'refused'}),
    ('timeouts', 'vigil_backend_errors_total', {'kind': 'timeout'}),
    ('resets_rcvd', 'vigil_backend_errors_total', {'kind': 'reset'}),
    ('resets_rcvd', 'vigil_backend_resets_total', {'kind': 'received'}),
    ('resets_sent', 'vigil_backend_resets_total', {'kind': 'sent'}),
    ('syn_retrans', 'vigil_backend_retransmits_total', {'kind': 'syn'}),
    ('data_retrans', 'vigil_backend_retransmits_total', {'kind': 'data'}),
    ('bytes_sent', 'vigil_backend_sent_bytes_total', {}),
    ('bytes_rcvd', 'vigil_backend_received_bytes_total', {}),
    ('requests', 'vigil_backend_requests_total', {}),
]
LOCAL_COUNTERS = [
    ('accepted', 'vigil_local_accepted_total', {}),
    ('responses', 'vigil_local_responses_total', {}),
    ('resets_rcvd', 'vigil_local_resets_total', {'kind': 'received'}),
    ('resets_sent', 'vigil_local_resets_total', {'kind': 'sent'}),
    ('bytes_sent', 'vigil_local_sent_bytes_total', {}),
    ('bytes_rcvd', 'vigil_local_received_bytes_total', {}),
]


def check_hist(samples, what, name, lat, **labels):
    cum = 0
    for i, n in enumerate(lat['buckets']):
        cum += n
        le = '+Inf' if i == len(lat['buckets']) - 1 else '%.6f' % ((1 << (i + 1)) / 1e6)
        if n or i == len(lat['buckets']) - 1:  # every non-empty bucket and the total
            check('%s bucket le=%s' % (what, le), cum,
                  get(samples, name + '_bucket', le=le, **labels))
    check(what + ' count', lat['count'], get(samples, name + '_count', **labels))
    check(what + ' sum', lat['sum_ns'] / 1e9, get(samples, name + '_sum', **labels), 1e-9)


def cmd_stats(metrics, stats_json):
    samples, _ = parse(metrics)
    stats = json.load(open(stats_json))
    for b in stats['backends']:
        ep = b['endpoint']
        for key, name, extra in BACKEND_COUNTERS:
            check('%s %s' % (ep, key), b[key], get(samples, name, backend=ep, **extra))
        check_hist(samples, ep + ' connect latency', 'vigil_backend_connect_duration_seconds',
                   b['connect_latency_us'], backend=ep)
        check_hist(samples, ep + ' request latency', 'vigil_backend_request_duration_seconds',
                   b['request_latency_us'], backend=ep)
    for l in stats['local']:
        port = str(l['port'])
        for key, name, extra in LOCAL_COUNTERS:
            check('port %s %s' % (port, key), l[key], get(samples, name, port=port, **extra))
        check_hist(samples, 'port %s response latency' % port,
                   'vigil_local_response_duration_seconds', l['response_latency_us'], port=port)
    check('inflight', stats['inflight'], get(samples, 'vigil_inflight_sockets'))
    for kind, n in (stats['loss'] or {}).items():
        check('loss ' + kind, n, get(samples, 'vigil_loss_total', kind=kind))
    for m, ratio in stats['fill'].items():
        entries = get(samples, 'vigil_map_entries', map=m)
        cap = get(samples, 'vigil_map_capacity', map=m)
        check('fill ' + m, ratio, entries / cap if entries is not None and cap else None, 1e-12)


def cmd_state(metrics, backends_json, services_json, events_ndjson):
    samples, _ = parse(metrics)
    ejections = {}
    with open(events_ndjson) as f:
        for line in f:
            e = json.loads(line)
            if e['to'] == 'ejected' and e['from'] != 'ejected' and e['backend'] != '-':
                key = (e['backend'], e['rule'])
                ejections[key] = ejections.get(key, 0) + 1
    for b in json.load(open(backends_json))['backends']:
        svc, ep = b['service'], b['backend']
        for s in ('healthy', 'ejected', 'probing'):
            check('%s %s state %s' % (svc, ep, s), int(b['state'] == s),
                  get(samples, 'vigil_backend_state', service=svc, backend=ep, state=s))
        for s in ('none', 'draining', 'disabled'):
            check('%s %s admin %s' % (svc, ep, s), int(b['admin'] == s),
                  get(samples, 'vigil_backend_admin_state', service=svc, backend=ep, state=s))
        check('%s %s share' % (svc, ep), b['share'],
              get(samples, 'vigil_backend_new_connection_share', service=svc, backend=ep), 1e-12)
        for (name, labels), v in samples.items():
            lab = dict(labels)
            if name == 'vigil_backend_ejections_total' and lab['service'] == svc and \
                    lab['backend'] == ep:
                check('%s %s ejections rule=%s' % (svc, ep, lab['rule']),
                      ejections.get((ep, lab['rule']), 0), v)
    for s in json.load(open(services_json))['services']:
        tier = {'primaries': 'primaries', 'backups': 'backups', 'FAIL-OPEN': 'fail_open'}
        for t in ('primaries', 'backups', 'fail_open'):
            check('%s tier %s' % (s['name'], t), int(tier[s['serving']] == t),
                  get(samples, 'vigil_service_serving_tier', service=s['name'], state=t))


def cmd_xdp(metrics, xdp_json):
    samples, _ = parse(metrics)
    xdp = json.load(open(xdp_json))
    for kind, n in xdp['counters'].items():
        check('xdp ' + kind, n, get(samples, 'vigil_xdp_packets_total', kind=kind))
    for kind, n in xdp['drops'].items():
        check('xdp drop ' + kind, n, get(samples, 'vigil_xdp_drops_total', kind=kind))


def cmd_series(metrics, instance):
    _, raw = parse(metrics)
    target = 'job="vigil",instance="%s"' % instance
    print('input_series:')
    for name, labels, value in [('up', '', '1')] + raw:
        series = '%s{%s}' % (name, ','.join(l for l in (labels, target) if l))
        print("  - series: '%s'" % series.replace("'", "''"))
        print("    values: '%s+0x30'" % value)


def main():
    cmds = {'stats': (cmd_stats, 2), 'state': (cmd_state, 4), 'xdp': (cmd_xdp, 2),
            'series': (cmd_series, 2)}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds or len(sys.argv) != cmds[sys.argv[1]][1] + 2:
        sys.exit(__doc__)
    fn, _ = cmds[sys.argv[1]]
    fn(*sys.argv[2:])
    sys.exit(1 if fails else 0)


if __name__ == '__main__':
    main()
