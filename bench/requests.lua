-- wrk script: replay the request lines of REQS_FILE (METHOD \t PATH \t TOKEN \t BODY), each wrk thread
-- taking every n-th line from its own offset so no two threads send the same POST; tallies statuses.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("REQS_FILE")
  local nthreads = tonumber(os.getenv("WRK_THREADS"))
  reqs = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == tid then
      local m, p, tok, body = line:match("^(%S+)\t(%S+)\t(%S+)\t?(.*)$")
      local headers = {["Authorization"] = "Bearer " .. tok}
      if body ~= nil and body ~= "" then headers["Content-Type"] = "application/json" else body = nil end
      table.insert(reqs, wrk.format(m, p, headers, body))
    end
    i = i + 1
  end
  idx = 0
  statuses = {}
end

function request()
  idx = idx + 1
  if idx > #reqs then idx = 1 end
  return reqs[idx]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s ~= nil then
      for code, n in pairs(s) do total[code] = (total[code] or 0) + n end
    end
  end
  for code, n in pairs(total) do io.write(string.format("STATUS %d %d\n", code, n)) end
  io.write(string.format("P50_US %d\nP99_US %d\nMAX_US %d\n", latency:percentile(50),
    latency:percentile(99), latency.max))
end
