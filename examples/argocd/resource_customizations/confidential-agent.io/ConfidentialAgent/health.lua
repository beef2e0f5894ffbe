-- Argo CD health for confidential-agent.io kinds (kstatus): Healthy only when Ready=True for the
-- current generation; Progressing while the operator has not observed the generation or a step is
-- still under way; Degraded (with the condition's message) when a step failed, e.g. attestation.
local hs = { status = "Progressing", message = "Waiting for the operator to reconcile" }
-- Ready=False reasons that mean "still working", not "failed" (every other False reason is Degraded).
local progressing = {
  Reconciling = true, InstanceStarting = true, WaitingForInstance = true, WaitingForGuestFetch = true,
  NotAttested = true, PolicyNotReady = true,
}
local generation = obj.metadata and obj.metadata.generation
if obj.status == nil then
  return hs
end
if generation ~= nil and obj.status.observedGeneration ~= generation then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end
local ready = nil
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" then
      ready = c
    end
  end
end
if ready == nil then
  return hs
end
if generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration ~= generation then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end
local message = ready.message or ""
if ready.reason ~= nil and ready.reason ~= "" then
  message = ready.reason .. ": " .. message
end
if ready.status == "True" then
  hs.status = "Healthy"
elseif ready.status == "False" and not progressing[ready.reason or ""] then
  hs.status = "Degraded"
end
hs.message = message
return hs
