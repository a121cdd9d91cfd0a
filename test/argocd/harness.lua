-- Runs an Argo CD health script the way Argo CD does: the object as the global
-- `obj`, the script's returned table as the verdict. Usage:
--   lua5.4 harness.lua <health.lua>  < <the object as a Lua table constructor>
-- Prints the status on the first line and the message after it. Runs on Lua 5.1
-- (what Argo CD's gopher-lua implements) as on 5.4.
local source = io.read("*a")
local compile = loadstring or load
local object, err = compile("return " .. source)
if object == nil then
  io.stderr:write("harness: the object does not parse as Lua: " .. err .. "\n")
  os.exit(2)
end
obj = object()

local hs = dofile(arg[1])
local statuses = { Healthy = true, Progressing = true, Degraded = true, Suspended = true, Missing = true, Unknown = true }
if type(hs) ~= "table" or not statuses[hs.status] then
  io.stderr:write("harness: the script must return a table whose status Argo CD knows, got " .. tostring(hs and hs.status) .. "\n")
  os.exit(3)
end
if hs.message ~= nil and type(hs.message) ~= "string" then
  io.stderr:write("harness: hs.message must be a string\n")
  os.exit(3)
end
io.write(hs.status, "\n", hs.message or "")
