"""A Retarus SMS HTTP API simulator: a real HTTP/1.1 server on loopback, standard library only.

It speaks the interface of `retarus-sms-http-api.txt` (POST /sms, GET /reports under a base path,
default `/httpsimple/v1`), records every request it receives, and can be told to misbehave. Tests
drive it without sleeping: a job's status moves on with the number of times it is polled, never
with wall time.

    with RetarusSimulator(user="u", password="p") as sim:
        requests.post(f"{sim.base_url}/sms", data={"user": "u", "pass": "p", "dst": "+4917012345678", "msg": "hi"})

Requests
--------
Parameters come from the query string and, when the Content-Type is
`application/x-www-form-urlencoded`, from the body; a name in both takes the body's value, a name
repeated within one source takes its first value. Everything is decoded as UTF-8 (invalid UTF-8 is
a 400). Checks run in this order, and the first one that fails answers, with an empty body:

1. a path other than `<base>/sms` and `<base>/reports`: 404;
2. a method other than POST on /sms or GET on /reports: 405;
3. `user` and `pass` not equal to the configured ones: 401;
4. invalid parameters: 400 (see below).

POST /sms checks what the real provider checks: `dst` (required) matches `^(\\+|00)?[0-9]{3,20}$`
as sent (nothing is stripped); `msg` (required) is 1 to 1600 characters; `dn` is `true` or `false`
and `qos` is `normal` or `express` (both case-insensitive); `src` is up to 20 digits with an
optional leading `+`, or 1 to 11 characters of letters, digits, space and ASCII punctuation; `bc`
and `ref` are at most 70 characters. A `dst` ending in `40` is refused with 400 as well (the
"provider refuses this number" case). Otherwise the answer is 201 with a new job id.

Job ids look like real ones, `J.20221116-102407.583-0lajfsfmoXIZJO93PQ` (UTC timestamp, 20 random
letters and digits). Every `odd_job_ids`-th job id (default 7: the 7th, 14th, ...; 1 = all, 0 =
none) ends in characters that must be URL-encoded, one of `+/=@`, `&a=b%2B@`, `#?;@` (the
provider's message ids end in `@`): a client that does not encode the job id in GET /reports gets
a 400 for an unknown job. Job ids never hold white space.

GET /reports needs `jobid`; an unknown or missing job id is a 400. Every other call is one poll of
that job and answers 200 with the job's current `(processStatus, status)`.

Lifecycle (per job, driven by its poll count n = 1, 2, ...; k = `polls_to_final`, at least 1)
-------------------------------------------------------------------------------------------
* polls 1 .. k-1: `OPEN` with an empty status;
* without delivery notification (dn absent or false): poll k and every later poll: the final status;
* with `dn=true`: poll k is `RUNNING` (empty status), poll k+1 and every later poll: the final status.

So with the default k = 2: a plain job answers OPEN, then final; a dn job OPEN, RUNNING, then final.
With k = 1: a plain job is final at its first poll; a dn job is RUNNING at the first, final from
the second. The final status is chosen by the last two digits of `dst`:

    10 DONE/INVALID_DST   11 DONE/BLOCKED      12 DONE/CON_ERR      13 DONE/NOT_ACC_FIN
    14 DONE/TIMEOUT       15 DONE/FAILED_FIN   16 DONE/SEND_ERR     17 DONE/STATUS_ERR
    18 CANCELED/(empty)   19 CANCELED/NOT_ACC_REC                   20 KILL/(empty)
    21 DONE/WEIRD_STATUS (a status not in the provider's table)
    22 OPEN (empty status) at every poll, forever
    23 PAUSED (a processStatus not in the table, empty status) at every poll, forever
    24 OPEN for polls 1 .. k-1, then RUNNING forever (dn or not)
    25 DONE/SUC_FIN (or the dn rule's earlier answers), the final one in lower case with white
       space around and inside it, e.g. `  done ; suc_fin \\n`
    26 an unparseable body, `<html><body>oops</body></html>` (text/html), at every poll, forever
    40 never a job: POST /sms answers 400
    50 never a job: POST /sms answers 500, every time (a request that waits until its validity
       ends: EXPIRED)
    51 POST /sms answers 503 to the first `refusals_before_accept` (default 4) POSTs for that
       number, then accepts as for any other number (a request that waits out an outage: SENT)
    anything else: DONE/SUC_FIN with dn=true, DONE/SUC_ACC without.

The DONE statuses come from the provider adapter's status table (jobs.py): every one of them
has a number, and a status added to the table gets the next free one from 27 up.

The package: jobs.py (what a job answers, poll by poll), bodies.py (what the requests carry
and how the answers are written), faults.py (injections, rates, outages), server.py (the HTTP
server and `RetarusSimulator`), cli.py (`python -m local.simulator`).

Response bodies (the reference for the client's parser, contract §7)
------------------------------------------------------------------
`body_form` chooses the form: "text", "kv", "json", "jsonarray" (reports only; /sms then answers
"json") or "rotate" (the default), which cycles through the forms on successive answers, one
cycle for /sms (text, kv, json) and one for /reports (text, kv, json, jsonarray). It may be
changed while the server runs.

POST /sms, 201:

* text: the job id and a newline, `J.20221116-102407.583-0lajfsfmoXIZJO93PQ\\n` (text/plain);
* kv: `jobId=<id>`, the id as it is, not URL-encoded (text/plain);
* json: `{"jobId": "<id>"}` (application/json).

GET /reports, 200 (shown for DONE/SUC_FIN; the status may be empty):

* text: `DONE SUC_FIN\\n`, the separator rotating through ` `, `;`, `,`, `|`, ` ; `, a tab; an empty
  status alternates between `OPEN\\n` and `OPEN;\\n` (text/plain);
* kv: alternately `processStatus=DONE&status=SUC_FIN` (URL-encoded) and one pair per line,
  `processStatus=DONE\\nstatus=SUC_FIN\\n`; an empty status is `status=` (text/plain);
* json: `{"processStatus": "DONE", "status": "SUC_FIN"}`; an empty status is `""` (application/json);
* jsonarray: `[{"processStatus": "DONE", "status": "SUC_FIN"}]` (application/json).

Every response carries Content-Length and keeps the connection alive (HTTP/1.1), so a pooled
client reuses its connections.

Faults
------
`inject(fault, count, path)` makes the next `count` requests to `path` ("/sms", "/reports", or
None for any) misbehave; injections are used in the order they were made. `set_fault_rates(...)`
makes requests misbehave at random, at the given rates, from `random.Random(seed)`: reproducible
for a given sequence of requests. An injection takes precedence over the rates. A faulted request
is recorded (its `fault` says which) but not processed: it creates no job and counts as no poll
("slow" and "garbled" excepted, which are processed normally). The kinds:

* "500", "503": that status, empty body;  "429": 429 with `Retry-After: 0`;
* "reset": the request is read in full, then the connection is closed with SO_LINGER 0, so the
  client sees a connection reset and no response;
* "hang": the request is read in full and nothing is sent until `stop()` or 30 s, then the
  connection is closed;
* "slow": the normal answer, after `slow_seconds` (default 2.0) on top of `latency`;
* "garbled": the request is processed as usual, but a success answers with a body in no §7 form,
  `<html><body>oops</body></html>` (text/html): POST /sms creates its job (the provider accepted
  it) and answers 201 without a readable job id; GET /reports counts its poll and answers 200
  without a readable status. An error answer (401, 400, ...) is unchanged.

`set_outage(start, end)` takes the provider down between two wall-clock times (epoch seconds):
every request in that window answers 503 (recorded with the fault "outage"), before any other
fault or check.

Standalone: `python -m local.simulator --port 8080` (cli.py) serves in the foreground and prints its base
URL. The password comes from `--password-file` or the environment variable RETARUS_SIM_PASSWORD
(never from the command line); without either, it is `sim-pass`.
"""

from local.simulator.bodies import BODY_FORMS, GARBLED_BODY, REPORT_FORMS, SMS_FORMS, TEXT_SEPARATORS
from local.simulator.cli import main
from local.simulator.faults import FAULTS, HANG_SECONDS
from local.simulator.jobs import FINAL_BY_SUFFIX, GARBLED, ODD_SUFFIXES, REJECTED_SUFFIX, Report, SimJob, lifecycle
from local.simulator.server import DEFAULT_PASSWORD, ReceivedRequest, RetarusSimulator

__all__ = [
    "BODY_FORMS",
    "DEFAULT_PASSWORD",
    "FAULTS",
    "FINAL_BY_SUFFIX",
    "GARBLED",
    "GARBLED_BODY",
    "HANG_SECONDS",
    "ODD_SUFFIXES",
    "REJECTED_SUFFIX",
    "REPORT_FORMS",
    "SMS_FORMS",
    "TEXT_SEPARATORS",
    "ReceivedRequest",
    "Report",
    "RetarusSimulator",
    "SimJob",
    "lifecycle",
    "main",
]
