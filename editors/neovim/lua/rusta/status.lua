-- Server state folded from $/progress and rusta/heartbeat, for the statusline and vim.notify.
local M = {}

-- rusta/heartbeat states (heartbeat/loop.py): disabled, running, over-budget, waiting, idle.
local function present(value)
  return value ~= nil and value ~= vim.NIL
end

local state = { jobs = {}, order = {}, heartbeat = {}, server = {}, failure = nil }

function M.reset()
  state = { jobs = {}, order = {}, heartbeat = {}, server = {}, failure = nil }
end

--- Stores the latest rusta/status params: cargoEnabled, companion, checking, lastCheck, shadowBytes.
function M.server_status(params)
  state.server = params or {}
end

--- The latest rusta/status params ({} before the first).
function M.server_state()
  return state.server
end

--- Who checks the workspace now: 'Rusta', 'rust-analyzer', 'cargo' or 'nobody'.
function M.checking()
  local who = state.server.checking
  if not present(who) then
    return 'nobody'
  end
  return who == 'rusta' and 'Rusta' or who
end

--- 1.2 GB, 340 MB.
function M.human_bytes(bytes)
  if bytes >= 1e9 then
    return ('%.1f GB'):format(bytes / 1e9)
  end
  return ('%d MB'):format(math.floor(bytes / 1e6 + 0.5))
end

function M.failed(reason)
  state.failure = reason
  state.jobs, state.order = {}, {}
end

function M.started()
  state.failure = nil
end

--- Folds one WorkDoneProgress value; returns the job's title for notifications.
---@param token string|integer
---@param value {kind: string, title?: string, message?: string, percentage?: number}
---@return string
function M.progress(token, value)
  local key = tostring(token)
  local job = state.jobs[key]
  if value.kind == 'end' then
    state.jobs[key] = nil
    state.order = vim.tbl_filter(function(k)
      return k ~= key
    end, state.order)
    return job and job.title or 'job'
  end
  if not job then
    job = { title = value.title or 'working' }
    state.jobs[key] = job
    table.insert(state.order, key)
  end
  job.message = value.message or job.message
  job.percentage = value.percentage or job.percentage
  return job.title
end

--- Stores the latest rusta/heartbeat params; returns true when the state changed.
function M.heartbeat(params)
  local before = state.heartbeat.state
  state.heartbeat = params or {}
  return state.heartbeat.state ~= before
end

--- The error of the heartbeat's last job, when it failed and nothing runs now.
function M.heartbeat_error(beat)
  if present(beat.job) or not present(beat.lastJob) then
    return nil
  end
  local result = present(beat.results) and beat.results[beat.lastJob] or nil
  local err = present(result) and result.error or nil
  return present(err) and ('heartbeat job %s failed: %s'):format(beat.lastJob, err) or nil
end

--- The latest rusta/heartbeat params ({} before the first).
function M.last_heartbeat()
  return state.heartbeat
end

--- {text, busy, error} for the current state.
function M.view()
  if state.failure then
    return { text = 'Rusta: error', busy = false, error = true, detail = state.failure }
  end
  local beat = state.heartbeat
  local failure = M.heartbeat_error(beat)
  if failure then
    return { text = 'Rusta: heartbeat error', busy = false, error = true, detail = failure }
  end
  local first = state.order[1]
  if first then
    local job = state.jobs[first]
    -- 0% is what a job without a measure of its progress reports: say nothing then.
    local pct = (job.percentage or 0) > 0 and (' ' .. math.floor(job.percentage + 0.5) .. '%') or ''
    local more = #state.order > 1 and (' (+' .. (#state.order - 1) .. ')') or ''
    local title = job.title:find('^Rusta') and job.title or ('Rusta: ' .. job.title)
    return { text = title .. pct .. more, busy = true, error = false, detail = job.message }
  end
  local other = state.server.checking
  if present(other) and other ~= 'rusta' then
    -- Rusta's check waits for rust-analyzer's (or the user's cargo) to finish.
    return { text = 'Rusta: waiting for ' .. other, busy = true, error = false, detail = 'checking now: ' .. other }
  end
  if beat.state == 'running' or present(beat.job) then
    local what = present(beat.job) and beat.job or beat.state
    local progress = present(beat.progress) and beat.progress or {}
    local pct = type(progress.percentage) == 'number' and (' ' .. math.floor(progress.percentage + 0.5) .. '%') or ''
    return { text = 'Rusta: ' .. what .. pct, busy = true, error = false, detail = progress.message }
  end
  local detail = beat.state and ('heartbeat ' .. beat.state) or nil
  return { text = 'Rusta: idle', busy = false, error = false, detail = detail }
end

--- For 'statusline': `set statusline+=%{v:lua.require'rusta'.statusline()}`.
function M.statusline()
  return M.view().text
end

return M
