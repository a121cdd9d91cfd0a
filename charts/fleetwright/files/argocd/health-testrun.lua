-- Argo CD health of a fleetwright.dev TestRun, from its phase and conditions:
--   Succeeded (Complete True)                   -> Healthy
--   Failed or Error (Failed True)               -> Degraded, with the reason and the counts
--   Pending with InvalidSpec (schema refuses it) -> Degraded
--   Pending (pool or ConfigMap not there yet), Queued, Running, no status yet -> Progressing
-- So a TestRun works as an Argo CD PostSync hook: the sync succeeds when the suite passes.
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

local function said(c, fallback)
  if c == nil or c.message == nil then
    return fallback
  end
  return c.message
end

local status = obj.status
local phase = nil
if status ~= nil then
  phase = status.phase
end

if phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Fleetwright controller to schedule the run"
  return hs
end

if phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = said(condition(status, "Complete"), "Succeeded")
  return hs
end

if phase == "Failed" or phase == "Error" then
  local failed = condition(status, "Failed")
  hs.status = "Degraded"
  hs.message = phase
  if failed ~= nil then
    hs.message = phase .. " (" .. failed.reason .. "): " .. said(failed, "")
  end
  return hs
end

local scheduled = condition(status, "Scheduled")
if phase == "Pending" then
  if scheduled ~= nil and scheduled.reason == "InvalidSpec" then
    hs.status = "Degraded"
  else
    hs.status = "Progressing"
  end
  hs.message = said(scheduled, "Pending")
  return hs
end

hs.status = "Progressing"
if phase == "Queued" then
  hs.message = said(scheduled, "Queued")
  if status.queuePosition ~= nil then
    hs.message = hs.message .. string.format(" (position %d)", status.queuePosition)
  end
else
  hs.message = said(condition(status, "Running"), phase)
end
return hs
