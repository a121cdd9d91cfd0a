-- Argo CD health of a fleetwright.dev Tunnel, from its Ready condition:
--   Ready True (Serving)                                   -> Healthy
--   Ready False with InvalidSpec, PathConflict or
--     SecretKeyMissing (only a fix to the objects helps)   -> Degraded
--   Ready False with PoolNotFound, SecretNotFound or NoGateway
--     (waiting for another object or the gateway), no status yet -> Progressing
-- Written for Argo CD's Lua (5.1): `obj` is the object, the script returns hs.
local hs = {}

local ready = nil
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" then
      ready = c
    end
  end
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Fleetwright controller to report the Tunnel's status"
  return hs
end

if obj.status.observedGeneration ~= nil and obj.metadata.generation ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the Fleetwright controller to observe generation " ..
      string.format("%d", obj.metadata.generation)
  return hs
end

local broken = { InvalidSpec = true, PathConflict = true, SecretKeyMissing = true }
if ready.status == "True" then
  hs.status = "Healthy"
elseif broken[ready.reason] then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
hs.message = ready.message
if ready.status ~= "True" then
  hs.message = ready.reason .. ": " .. ready.message
end
return hs
