-- Argo CD health of a fleetwright.dev BrowserPool, from its conditions:
--   Degraded True (browsers keep failing, or cannot start) -> Degraded
--   Ready True (an idle browser to lease)                   -> Healthy
--   Ready False, every browser busy and none starting       -> Healthy (in use, not broken)
--   Ready False with InvalidSpec (the schema refuses it)    -> Degraded
--   otherwise (no status yet, browsers starting, deleting)  -> Progressing
-- Written for Argo CD's Lua (5.1): `obj` is the object, the script returns hs.
local hs = {}

local function condition(status, kind)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function count(n)
  if n == nil then
    return 0
  end
  return n
end

local status = obj.status
local ready = condition(status, "Ready")
local degraded = condition(status, "Degraded")

if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: leased browsers are drained first"
  if ready ~= nil and ready.reason == "Draining" then
    hs.message = ready.message
  end
  return hs
end

if status == nil or ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Fleetwright controller to report the pool's status"
  return hs
end

if status.observedGeneration ~= nil and obj.metadata.generation ~= nil
    and status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the Fleetwright controller to observe generation " ..
      string.format("%d", obj.metadata.generation)
  return hs
end

if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = degraded.reason .. ": " .. degraded.message
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end

if ready.reason == "InvalidSpec" then
  hs.status = "Degraded"
  hs.message = ready.message
  return hs
end

if ready.reason == "NoIdleBrowsers" and count(status.starting) == 0 and count(status.busy) > 0 then
  hs.status = "Healthy"
  hs.message = string.format("All %d browser(s) busy; %d lease request(s) waiting", count(status.busy),
      count(status.waiting))
  return hs
end

hs.status = "Progressing"
hs.message = ready.message
return hs
