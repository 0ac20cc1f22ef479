#!/usr/bin/env bash
# A walk through the HTTP API v1 with nothing but curl (and python3 to read JSON).
#
# It certifies a prescriber and a pharmacy, enrolls and activates one patient of each risk category,
# runs both through two monthly cycles (eligibility, requirements, refusals, RMA, reversal), ends the
# treatments and completes the post-treatment test. Every requirement and refusal is printed.
#
# Usage:   ADMIN_EMAIL=admin@example.org ADMIN_PASSWORD='...' docs/api-walkthrough.sh [BASE_URL] [PHASE]
#          BASE_URL defaults to http://127.0.0.1:5000.
#
# Time has to pass between cycles: a new RMA is possible only after 75% of the previous days' supply
# (R-RMA-3), counted from the instant the RMA was issued, so no choice of dates can fake it. Clinical
# dates are chosen relative to the service's "today" (in the past, within R-TIME-2), and the script
# runs in three phases, restarting the server with a moved clock in between:
#   phase 1  server started as usual (REMS_CLOCK_OFFSET_DAYS=0): certification, enrollment, cycle 1
#   phase 2  server restarted with REMS_CLOCK_OFFSET_DAYS=30: cycle 2, end of treatment
#   phase 3  server restarted with REMS_CLOCK_OFFSET_DAYS=60: post-treatment test, course completed
# e.g.  rems run &                                  ; docs/api-walkthrough.sh "" 1
#       REMS_CLOCK_OFFSET_DAYS=30 rems run &        ; docs/api-walkthrough.sh "" 2
#       REMS_CLOCK_OFFSET_DAYS=60 rems run &        ; docs/api-walkthrough.sh "" 3
# OFFSET (default (PHASE-1)*30) must equal the server's REMS_CLOCK_OFFSET_DAYS.
# State between phases (ids, emails) is kept in $STATE (default ./api-walkthrough.state).
set -euo pipefail

BASE="${1:-}"
BASE="${BASE:-http://127.0.0.1:5000}"
PHASE="${2:-1}"
API="$BASE/api/v1"
STATE="${STATE:-./api-walkthrough.state}"
: "${ADMIN_EMAIL:?set ADMIN_EMAIL to an administrator created with: rems users create-admin}"
: "${ADMIN_PASSWORD:?set ADMIN_PASSWORD}"
OFFSET="${OFFSET:-$(( (PHASE - 1) * 30 ))}"
PASSWORD="${DEMO_PASSWORD:-walkthrough password 2026}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# --- plumbing ----------------------------------------------------------------------------------
BODY=""
STATUS=""

req() {  # req EXPECTED_STATUS METHOD PATH [TOKEN] [JSON] [EXTRA_HEADER]: sets BODY and STATUS
  local expected=$1 method=$2 path=$3 token=${4:-} data=${5:-} extra=${6:-}
  local args=(-sS -X "$method" -H "Accept: application/json" -o "$TMP/body" -w '%{http_code}')
  if [ -n "$token" ]; then args+=(-H "Authorization: Bearer $token"); fi
  if [ -n "$extra" ]; then args+=(-H "$extra"); fi
  if [ -n "$data" ]; then args+=(-H "Content-Type: application/json" --data-binary "$data"); fi
  STATUS=$(curl "${args[@]}" "$API$path")
  BODY=$(cat "$TMP/body")
  if [ "$STATUS" != "$expected" ]; then
    echo "!! $method $path answered $STATUS, expected $expected:" >&2
    echo "$BODY" >&2
    exit 1
  fi
}

j() {  # j KEY.PATH: read a value from $BODY
  printf '%s' "$BODY" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(json.dumps(d) if isinstance(d, (dict, list)) else d)' "$1"
}

day() {  # day N: the service-local date N days from the service's today (America/New_York)
  python3 -c '
import sys
from datetime import datetime, timedelta, timezone
try:
    from zoneinfo import ZoneInfo
    now = datetime.now(ZoneInfo("America/New_York"))
except Exception:  # no tz database: UTC-5 is close enough away from midnight
    now = datetime.now(timezone(timedelta(hours=-5)))
print((now + timedelta(days=int(sys.argv[1]) + int(sys.argv[2]))).date().isoformat())' "$1" "$OFFSET"
}

token() {  # token EMAIL [PASSWORD]
  req 201 POST /auth/token "" "{\"email\": \"$1\", \"password\": \"${2:-$PASSWORD}\"}"
  j token
}

say() { printf '\n== %s\n' "$*"; }

show_reasons() {  # the refusal reasons (R-RMA-5) of $BODY
  printf '%s' "$BODY" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("   eligible:", d.get("eligible", d.get("code")))
for r in d.get("reasons", []):
    print("   - %-34s %s" % (r["code"], r["message"]))'
}

show_status() {  # show_status REMS_ID: requirements and next steps as the prescriber sees them
  req 200 GET "/patients/$1" "$PRES_TOKEN"
  printf '%s' "$BODY" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("   %s (%s): course %s, cycle %s, eligible %s, window %s" % (
    d["rems_id"], d["category"], d["course_status"], d.get("cycle"), d["eligible"], d["window"]))
for r in d["requirements"]:
    print("   [%s] %-34s %s" % ("x" if r["met"] else " ", r["code"], r["detail"]))
for s in d["next_steps"]:
    print("   next:", s)'
}

sig() { printf '{"password": "%s"}' "$PASSWORD"; }

lookup() {  # lookup REMS_ID DOB: the dispensing look-up fields as JSON members
  printf '"rems_id": "%s", "date_of_birth": "%s", "prescriber_npi": "%s", "pharmacy_ncpdp_id": "%s"' \
    "$1" "$2" "$NPI" "$NCPDP"
}

eligibility() {  # eligibility REMS_ID DOB
  req 200 GET "/eligibility?rems_id=$1&date_of_birth=$2&prescriber_npi=$NPI&pharmacy_ncpdp_id=$NCPDP" \
    "$PHARM_TOKEN"
  show_reasons
}

authorize() {  # authorize EXPECTED REMS_ID DOB [DAYS] [QUANTITY] [IDEMPOTENCY_KEY]
  local key=${6:-}
  req "$1" POST /authorizations "$PHARM_TOKEN" \
    "{$(lookup "$2" "$3"), \"days_supply\": ${4:-30}, \"quantity\": ${5:-60}}" \
    "${key:+Idempotency-Key: $key}"
  if [ "$1" = 201 ]; then
    echo "   RMA $(j rma), do not dispense after $(j do_not_dispense_after)"
  else
    show_reasons
  fi
}

attest() {  # attest PATIENT_TOKEN: answer this cycle's questions with the bank's correct choices
  req 200 GET /me/comprehension "$1"
  local questions=$BODY
  req 200 GET /admin/comprehension-questions "$ADMIN_TOKEN"
  local answers
  answers=$(python3 -c '
import json, sys
asked = json.loads(sys.argv[1])["questions"]
bank = {q["id"]: q for q in json.loads(sys.argv[2])["questions"]}
print(json.dumps({q["id"]: next(c["id"] for c in bank[q["id"]]["choices"] if c["correct"]) for q in asked}))
' "$questions" "$BODY")
  req 201 POST /me/attestations "$1" \
    "{\"answers\": $answers, \"contraception\": {\"forms\": [\"iud\", \"male_condom\"]}, \"signature\": $(sig)}"
  echo "   monthly attestation signed (document $(j document_id))"
}

visit() {  # visit REMS_ID DATE COUNSELED
  req 201 POST "/patients/$1/visits" "$PRES_TOKEN" \
    "{\"visit_date\": \"$2\", \"counseled\": $3, \"signature\": $(sig)}"
  echo "   visit of $2 recorded (counseled: $3)"
}

preg_test() {  # preg_test REMS_ID KIND DATE
  req 201 POST "/patients/$1/pregnancy-tests" "$PRES_TOKEN" \
    "{\"kind\": \"$2\", \"specimen_date\": \"$3\", \"result\": \"negative\", \"setting\": \"medical\"}"
  echo "   negative $2 test collected $3 recorded"
}

npi_for() {  # a valid NPI (Luhn over 80840 + NPI) built from 9 digits
  python3 -c '
import sys
base = sys.argv[1]
for d in "0123456789":
    digits = [int(c) for c in "80840" + base + d]
    total = sum(x if i % 2 == 0 else (x * 2 - 9 if x * 2 > 9 else x * 2) for i, x in enumerate(reversed(digits)))
    if total % 10 == 0:
        print(base + d)
        break' "$1"
}

save() { declare -p RUN NPI NCPDP PRES_EMAIL RSP_EMAIL PHARM_EMAIL CGP_ID CGP_DOB CGP_EMAIL \
  CCGP_ID CCGP_DOB CCGP_EMAIL > "$STATE"; }

login_all() {
  ADMIN_TOKEN=$(token "$ADMIN_EMAIL" "$ADMIN_PASSWORD")
  PRES_TOKEN=$(token "$PRES_EMAIL")
  PHARM_TOKEN=$(token "$PHARM_EMAIL")
  CGP_TOKEN=$(token "$CGP_EMAIL")
  CCGP_TOKEN=$(token "$CCGP_EMAIL")
}

# --- phase 1: certification, enrollment, first cycle ----------------------------------------------
phase1() {
  RUN="${RUN:-$(date +%s)}"
  local n=$(( RUN % 10000000 ))
  NPI=$(npi_for "$(printf '1%08d' $(( RUN % 100000000 )))")
  NCPDP=$(printf '%07d' "$n")
  PRES_EMAIL="walk-doctor-$RUN@example.org"
  RSP_EMAIL="walk-rsp-$RUN@example.org"
  PHARM_EMAIL="walk-pharmacist-$RUN@example.org"
  ADMIN_TOKEN=$(token "$ADMIN_EMAIL" "$ADMIN_PASSWORD")

  say "Prescriber registers (pending) and signs the program attestation (R-PRES-1)"
  req 201 POST /prescribers "" "{\"email\": \"$PRES_EMAIL\", \"password\": \"$PASSWORD\", \"first_name\": \"Dana\",
    \"last_name\": \"Walker\", \"npi\": \"$NPI\", \"license_state\": \"NY\", \"license_number\": \"MD$n\"}"
  echo "   status: $(j status)"
  PRES_TOKEN=$(token "$PRES_EMAIL")
  req 401 POST /prescribers/me/attestation "$PRES_TOKEN" '{"signature": {"password": "not my password"}}'
  echo "   a wrong password is refused ($STATUS $(j code)): nothing signed (R-SIG-1)"
  req 200 POST /prescribers/me/attestation "$PRES_TOKEN" "{\"signature\": $(sig)}"
  echo "   status: $(j status) until $(j certified_until)"

  say "Pharmacy registers with its RSP, who signs and invites a pharmacist (R-PHAR-1)"
  req 201 POST /pharmacies "" "{\"name\": \"Walkthrough Pharmacy\", \"ncpdp_id\": \"$NCPDP\",
    \"npi\": \"$(npi_for "$(printf '2%08d' "$n")")\", \"address\": {\"line1\": \"1 Main St\", \"city\": \"Albany\",
    \"state\": \"NY\", \"zip\": \"12207\"}, \"rsp\": {\"email\": \"$RSP_EMAIL\", \"password\": \"$PASSWORD\",
    \"first_name\": \"Riley\", \"last_name\": \"Rsp\", \"license_number\": \"RPH$n\"}}"
  RSP_TOKEN=$(token "$RSP_EMAIL")
  req 200 POST "/pharmacies/$NCPDP/attestation" "$RSP_TOKEN" "{\"signature\": $(sig)}"
  echo "   pharmacy $NCPDP: $(j status) until $(j certified_until)"
  req 201 POST "/pharmacies/$NCPDP/pharmacists" "$RSP_TOKEN" "{\"email\": \"$PHARM_EMAIL\", \"first_name\": \"Sam\",
    \"last_name\": \"Staff\", \"license_number\": \"RPH${n}B\"}"
  local code
  code=$(j activation_code)
  req 200 POST /activate "" "{\"activation_code\": \"$code\", \"password\": \"$PASSWORD\"}"
  echo "   pharmacist $PHARM_EMAIL activated"
  PHARM_TOKEN=$(token "$PHARM_EMAIL")

  say "Prescriber enrolls two patients (R-PAT-1); each activates with code + date of birth (R-PAT-3)"
  CGP_DOB=2001-04-12; CCGP_DOB=1988-09-30
  CGP_EMAIL="walk-cgp-$RUN@example.org"; CCGP_EMAIL="walk-ccgp-$RUN@example.org"
  for who in CGP CCGP; do
    local dob_var="${who}_DOB" email_var="${who}_EMAIL" category=can_get_pregnant
    [ "$who" = CCGP ] && category=cannot_get_pregnant
    req 201 POST /patients "$PRES_TOKEN" "{\"first_name\": \"Pat\", \"last_name\": \"$who Walk $RUN\",
      \"date_of_birth\": \"${!dob_var}\", \"email\": \"${!email_var}\", \"category\": \"$category\"}"
    printf -v "${who}_ID" '%s' "$(j rems_id)"
    code=$(j activation_code)
    req 400 POST /activate "" "{\"activation_code\": \"$code\", \"password\": \"$PASSWORD\",
      \"date_of_birth\": \"1900-01-01\"}"
    req 200 POST /activate "" "{\"activation_code\": \"$code\", \"password\": \"$PASSWORD\",
      \"date_of_birth\": \"${!dob_var}\"}"
    local id_var="${who}_ID"
    echo "   $category patient ${!id_var} activated (a wrong date of birth was refused first)"
  done
  CGP_TOKEN=$(token "$CGP_EMAIL"); CCGP_TOKEN=$(token "$CCGP_EMAIL")
  save

  say "Before anything: what would the pharmacy hear? (R-RMA-5)"
  eligibility "$CGP_ID" "$CGP_DOB"
  eligibility "$CCGP_ID" "$CCGP_DOB"
  say "Unknown REMS ID and wrong date of birth answer alike (R-RMA-6)"
  req 200 GET "/eligibility?rems_id=0000000000&date_of_birth=$CGP_DOB&prescriber_npi=$NPI&pharmacy_ncpdp_id=$NCPDP" \
    "$PHARM_TOKEN"; show_reasons
  req 200 GET "/eligibility?rems_id=$CGP_ID&date_of_birth=1999-01-01&prescriber_npi=$NPI&pharmacy_ncpdp_id=$NCPDP" \
    "$PHARM_TOKEN"; show_reasons

  say "Both patients sign the informed consent (R-PAT-3)"
  req 201 POST /me/consent "$CGP_TOKEN" "{\"signature\": $(sig)}"
  req 201 POST /me/consent "$CCGP_TOKEN" "{\"signature\": $(sig)}"

  say "CGP patient, cycle 1: contraception, screening, counseling, confirmation, attestation"
  req 201 POST "/patients/$CGP_ID/contraception" "$PRES_TOKEN" \
    "{\"start_date\": \"$(day -45)\", \"forms\": [\"iud\", \"male_condom\"]}"
  echo "   contraception (IUD + male condom) since $(day -45)"
  preg_test "$CGP_ID" screening "$(day -35)"
  visit "$CGP_ID" "$(day 0)" true
  show_status "$CGP_ID"
  preg_test "$CGP_ID" confirmation "$(day 0)"
  attest "$CGP_TOKEN"
  show_status "$CGP_ID"
  eligibility "$CGP_ID" "$CGP_DOB"
  say "RMA for the CGP patient (with an Idempotency-Key, sent twice: one RMA)"
  authorize 201 "$CGP_ID" "$CGP_DOB" 30 90 "walk-$RUN-1"
  local first
  first=$(j rma)
  authorize 201 "$CGP_ID" "$CGP_DOB" 30 90 "walk-$RUN-1"
  say "Wrong quantity: the pharmacy reverses it (R-RMA-4) and gets a corrected RMA"
  req 200 POST "/authorizations/$first/reversal" "$PHARM_TOKEN" '{"reason": "wrong quantity entered"}'
  echo "   $first: $(j status)"
  authorize 201 "$CGP_ID" "$CGP_DOB" 30 60
  say "A second request in the same cycle is refused (R-RMA-2, R-RMA-3)"
  authorize 409 "$CGP_ID" "$CGP_DOB"

  say "CCGP patient, cycle 1: counseling visit at enrollment opens a 30-day window (R-PAT-4, R-CYC-3)"
  visit "$CCGP_ID" "$(day 0)" true
  show_status "$CCGP_ID"
  authorize 409 "$CCGP_ID" "$CCGP_DOB" 35
  authorize 201 "$CCGP_ID" "$CCGP_DOB" 30 30
  say "Phase 1 done. Restart the server with REMS_CLOCK_OFFSET_DAYS=30 and run phase 2."
}

# --- phase 2: second cycle, end of treatment -----------------------------------------------------
phase2() {
  # shellcheck disable=SC1090
  source "$STATE"
  login_all
  say "30 days later: cycle 2 for the CGP patient (monthly test, counseling, attestation)"
  show_status "$CGP_ID"
  eligibility "$CGP_ID" "$CGP_DOB"
  preg_test "$CGP_ID" monthly "$(day 0)"
  visit "$CGP_ID" "$(day 0)" true
  attest "$CGP_TOKEN"
  show_status "$CGP_ID"
  authorize 201 "$CGP_ID" "$CGP_DOB" 30 60

  say "Cycle 2 for the CCGP patient: a visit is enough (no counseling after enrollment)"
  eligibility "$CCGP_ID" "$CCGP_DOB"
  visit "$CCGP_ID" "$(day 0)" false
  authorize 201 "$CCGP_ID" "$CCGP_DOB" 30 30

  say "End of treatment (R-END-1)"
  req 200 POST "/patients/$CCGP_ID/end-of-treatment" "$PRES_TOKEN" "{\"last_dose_date\": \"$(day 0)\",
    \"reason\": \"course complete\"}"
  echo "   CCGP course: $(j course_status)"
  req 200 POST "/patients/$CGP_ID/end-of-treatment" "$PRES_TOKEN" "{\"last_dose_date\": \"$(day 0)\",
    \"reason\": \"course complete\"}"
  echo "   CGP course: $(j course_status)"
  show_status "$CGP_ID"
  authorize 409 "$CGP_ID" "$CGP_DOB"
  say "Phase 2 done. Restart the server with REMS_CLOCK_OFFSET_DAYS=60 and run phase 3."
}

# --- phase 3: post-treatment test ----------------------------------------------------------------
phase3() {
  # shellcheck disable=SC1090
  source "$STATE"
  login_all
  say "30 days after the last dose: the post-treatment test completes the CGP course (R-END-1)"
  preg_test "$CGP_ID" post_treatment "$(day 0)"
  show_status "$CGP_ID"
  [ "$(j course_status)" = completed ] || { echo "!! CGP course not completed" >&2; exit 1; }
  req 200 GET /admin/audit/verify "$ADMIN_TOKEN"
  echo "   audit chain ok: $(j ok) ($(j entries) entries)"
  say "Walkthrough complete."
}

case "$PHASE" in
  1) phase1 ;;
  2) phase2 ;;
  3) phase3 ;;
  *) echo "PHASE must be 1, 2 or 3" >&2; exit 2 ;;
esac
