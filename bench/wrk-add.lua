-- wrk script of bench/servers.sh: POSTs the JSON-RPC 2.0 call add(1, 2) on a keep-alive
-- connection, counts bad replies (a status other than 200, or a body without "result":3), and
-- prints them with the latency percentiles when done:
--   wrk -t1 -c1 -d3s -s bench/wrk-add.lua http://127.0.0.1:PORT/rpc
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}'
wrk.headers["Content-Type"] = "application/json"

bad = 0
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function response(status, headers, body)
    if status ~= 200 or not string.find(body, '"result":3', 1, true) then
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local b = 0
    for _, t in ipairs(threads) do
        b = b + t:get("bad")
    end
    local e = summary.errors
    io.write(string.format("bad %d errors %d p50_us %d p99_us %d\n", b,
        e.connect + e.read + e.write + e.status + e.timeout,
        latency:percentile(50), latency:percentile(99)))
end
