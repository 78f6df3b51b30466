// k6: a fixed 500 requests/s for 10 s (open model), distinct update_ids;
// writes p50/p99 latency to $SUMMARY.
import http from 'k6/http';
import exec from 'k6/execution';

export const options = {
  scenarios: {
    fixed: { executor: 'constant-arrival-rate', rate: 500, timeUnit: '1s', duration: '10s', preAllocatedVUs: 64, maxVUs: 256 },
  },
  summaryTrendStats: ['p(50)', 'p(99)', 'max'],
};

const offset = Number(__ENV.ID_OFFSET || 0);

export default function () {
  const n = offset + exec.scenario.iterationInTest;
  const body = JSON.stringify({
    update_id: n,
    message: { message_id: n, date: 1700000000, chat: { id: -2000000000 - (n % 500), type: 'supergroup', title: 'Group' },
      from: { id: 20000 + (n % 500), is_bot: false, first_name: 'U' }, text: 'hello everyone' },
  });
  http.post(`${__ENV.TARGET}/telegram-webhook`, body, {
    headers: { 'Content-Type': 'application/json', 'X-Telegram-Bot-Api-Secret-Token': 'benchsecret' },
  });
}

export function handleSummary(data) {
  const d = data.metrics.http_req_duration.values;
  return { [__ENV.SUMMARY]: JSON.stringify({ p50: d['p(50)'], p99: d['p(99)'], failed: data.metrics.http_req_failed.values.rate }) };
}
