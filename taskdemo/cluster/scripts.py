"""The Lua scripts that make the lease and the fencing hold inside Redis, where no pause of ours can split them.

- ACQUIRE: take the free lease (`SET NX PX`) and, in the same step, a new fencing epoch (`INCR`).
- RENEW: extend the lease only while it is still ours and our epoch is the newest.
- RELEASE: give the lease up, if it is still ours (a clean stop: another process takes over at once).
- PUBLISH: the engine's only write. It checks the epoch first, so an engine that was paused past its lease and
  wakes up writes nothing: the script answers FENCED and the engine steps down. Then it appends the change
  entries to the stream (capped with MAXLEN ~), and, when asked, stores the snapshot (naming the entry it is
  current to), each run's history row, tasks and events, the newest handled command, and drops runs beyond
  retention.
"""
from __future__ import annotations

ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return false
"""

RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: epoch, changes, snapshot, runs
# ARGV: epoch, maxlen, key prefix, runs to keep, newest handled command id ('' for none), entry count, then
#       (version, kind, data) per entry, then the snapshot: flag ('1' to store one), meta, tasks, events, then the
#       runs to store in the history: their count, then (run id, row, tasks, events) per run, where tasks '' stands
#       for the snapshot's tasks (the current run's, often 400 kB at 10,000 tasks: sent once)
PUBLISH = """
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then
  return redis.error_reply('FENCED epoch ' .. tostring(current) .. ' is newer than ' .. ARGV[1])
end
local prefix = ARGV[3]
local count = tonumber(ARGV[6])
local last = false
local at = 7
for i = 1, count do
  last = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*',
                    'v', ARGV[at], 'e', ARGV[1], 'k', ARGV[at + 1], 'd', ARGV[at + 2])
  at = at + 3
end
local snapshot_tasks = ARGV[at + 2]
if ARGV[at] == '1' then
  redis.call('HSET', KEYS[3], 'meta', ARGV[at + 1], 'tasks', snapshot_tasks, 'events', ARGV[at + 3],
             'entry', last or '0-0')
end
local runs = tonumber(ARGV[at + 4])
at = at + 5
for i = 1, runs do
  local run_id = ARGV[at]
  local tasks = ARGV[at + 2]
  if tasks == '' then
    tasks = snapshot_tasks
  end
  redis.call('HSET', prefix .. 'run:' .. run_id, 'row', ARGV[at + 1], 'tasks', tasks, 'events', ARGV[at + 3])
  redis.call('ZADD', KEYS[4], tonumber(run_id), run_id)
  at = at + 4
end
if runs > 0 then
  local extra = redis.call('ZCARD', KEYS[4]) - tonumber(ARGV[4])
  if extra > 0 then
    for _, old in ipairs(redis.call('ZRANGE', KEYS[4], 0, extra - 1)) do
      redis.call('DEL', prefix .. 'run:' .. old)
    end
    redis.call('ZREMRANGEBYRANK', KEYS[4], 0, extra - 1)
  end
end
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[3], 'command', ARGV[5])
end
return last
"""
