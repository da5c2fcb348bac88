-- wrk script: durable booking attempts spread over a generated catalog. Every request has its own
-- person and Idempotency-Key, so each 201 is one new booking.
--   wrk -t2 -c64 -d10s -s bench/booking.lua http://127.0.0.1:8081 -- CLINICS [FIRST_ID]
local clinics, first_id = 14000, 100001
local counter = 0
local threads = {}
thread_id = 0  -- global: set per thread by setup()

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  clinics = tonumber(args[1] or clinics)
  first_id = tonumber(args[2] or first_id)
  math.randomseed(os.time() * 1000 + thread_id * 7919)
  run = tostring(os.time()) .. "-" .. tostring(math.random(1, 1e9))
end

local times = {}
for h = 9, 17 do
  table.insert(times, string.format("%02d:00", h))
  table.insert(times, string.format("%02d:30", h))
end

function request()
  counter = counter + 1
  local person = "b" .. run .. "-" .. thread_id .. "-" .. counter
  local body = string.format(
    '{"clinic_id":%d,"date":"2099-12-%02d","time":"%s","person_id":"%s"}',
    first_id + math.random(0, clinics - 1), math.random(1, 14), times[math.random(1, 18)], person)
  return wrk.format("POST", "/api/v1/bookings",
    {["Content-Type"] = "application/json", ["Idempotency-Key"] = person}, body)
end
