-- bench/queue-pow: POST /api/v1/queue/tickets, each request a new client. With PROOFS=FILE (lines
-- "CLIENT PROOF" from build/bench/queue-proofs) each request presents one proof, never twice
-- (threads take their own slice); without it, plain new clients (the mode off).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  lines = {}
  next_line = 1
  local file = os.getenv("PROOFS")
  if file then
    local n = 0
    for line in io.lines(file) do
      if n % tonumber(os.getenv("THREADS")) == id then
        local client, proof = line:match("(%S+) (%S+)")
        table.insert(lines, {client, proof})
      end
      n = n + 1
    end
  end
end

function request()
  local h = {}
  if #lines > 0 then
    local l = lines[next_line]
    if next_line < #lines then next_line = next_line + 1 end  -- past the end: reused, refused 403
    h["X-Surge-Client"] = l[1]
    h["X-Surge-Proof"] = l[2]
  end
  return wrk.format("POST", "/api/v1/queue/tickets", h, "")
end
