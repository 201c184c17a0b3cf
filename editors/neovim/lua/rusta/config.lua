-- Options of require('rusta').setup(): defaults, validation with dotted paths, and the
-- server's initializationOptions (docs/contracts.md "Settings", camelCase on the wire).
local M = {}

local DEVICES = { auto = true, cuda = true, mps = true, cpu = true }

---@return table
function M.defaults()
  return {
    server = {
      -- Full command line; wins over `path`. nil: `path`, else `rusta` on $PATH.
      cmd = nil,
      -- Path to the `rusta` executable.
      path = nil,
    },
    -- Sent as initializationOptions and on change; mirrors the VS Code settings `rusta.*`.
    settings = {
      -- An empty object on the wire (an empty Lua table would be sent as a list).
      memory = { uri = '', storageOptions = vim.empty_dict() },
      team = { uri = '', storageOptions = vim.empty_dict(), author = '' },
      model = { embedding = '', generator = '' },
      device = 'auto',
      abstain = { targetPrecision = 0.95 },
      heartbeat = { enabled = true, idleSeconds = 20, cpuSecondsPerHour = 300 },
      -- enable: cargo runs the crate's build.rs and proc macros; false for a folder you do not trust.
      cargo = {
        checkArgs = { 'check', '--workspace', '--all-targets' },
        targetDir = '',
        enable = true,
        shadowMaxGigabytes = 10,
      },
    },
    notify = {
      -- vim.notify when a $/progress job (ingest, drill) begins and ends.
      progress = true,
      -- vim.notify on every heartbeat state change; errors are always shown.
      heartbeat = false,
    },
  }
end

local function is_list_of_strings(value)
  if type(value) ~= 'table' or not vim.islist(value) then
    return false
  end
  for _, item in ipairs(value) do
    if type(item) ~= 'string' then
      return false
    end
  end
  return true
end

local function is_map_of_strings(value)
  if type(value) ~= 'table' then
    return false
  end
  for key, item in pairs(value) do
    if type(key) ~= 'string' or type(item) ~= 'string' then
      return false
    end
  end
  return true
end

local function is_non_negative_number(value)
  return type(value) == 'number' and value >= 0
end

-- Extra checks beyond the type of the default, by dotted path.
local CHECKS = {
  ['rusta.server.cmd'] = { is_list_of_strings, 'list of strings' },
  ['rusta.settings.device'] = {
    function(v)
      return DEVICES[v] ~= nil
    end,
    'one of auto, cuda, mps, cpu',
  },
  ['rusta.settings.abstain.targetPrecision'] = {
    function(v)
      return type(v) == 'number' and v > 0 and v < 1
    end,
    'number between 0 and 1',
  },
  ['rusta.settings.heartbeat.idleSeconds'] = { is_non_negative_number, 'non-negative number' },
  ['rusta.settings.heartbeat.cpuSecondsPerHour'] = { is_non_negative_number, 'non-negative number' },
  ['rusta.settings.cargo.checkArgs'] = { is_list_of_strings, 'list of strings' },
  ['rusta.settings.cargo.shadowMaxGigabytes'] = { is_non_negative_number, 'non-negative number' },
  ['rusta.settings.memory.storageOptions'] = { is_map_of_strings, 'table of strings' },
  ['rusta.settings.team.storageOptions'] = { is_map_of_strings, 'table of strings' },
}

-- Options whose default is nil, with the type they must have.
local OPTIONAL = { ['rusta.server.cmd'] = 'table', ['rusta.server.path'] = 'string' }

-- vim.validate's signature changed in 0.11; both forms raise "<path>: expected ..., got ...".
local function validate(path, value, expected, message)
  if vim.fn.has('nvim-0.11') == 1 then
    vim.validate(path, value, expected, false, message)
  else
    vim.validate({ [path] = { value, expected, message } })
  end
end

local function check(defaults, user, prefix)
  validate(prefix, user, 'table')
  for key, value in pairs(user) do
    local path = prefix .. '.' .. key
    local default = defaults[key]
    local custom = CHECKS[path]
    if default == nil and OPTIONAL[path] == nil then
      error(path .. ': unknown option', 0)
    elseif custom then
      validate(path, value, custom[1], custom[2])
    elseif type(default) == 'table' and (next(default) == nil or not vim.islist(default)) then
      check(default, value, path)
    else
      validate(path, value, OPTIONAL[path] or type(default))
    end
  end
end

--- Validates user options and merges them over the defaults. Raises on the first bad option
--- with its dotted path, e.g. "rusta.settings.abstain.targetPrecision: expected number ...".
---@param user table|nil
---@return table
function M.resolve(user)
  user = user or {}
  local ok, err = pcall(check, M.defaults(), user, 'rusta')
  if not ok then
    -- vim.validate errors carry a source position in front of the path; keep the message only.
    error((tostring(err):gsub('^.-(rusta%.)', '%1')), 0)
  end
  -- Lists replace their default instead of merging element-wise.
  return vim.tbl_deep_extend('force', M.defaults(), user)
end

--- The command line that starts the server.
---@param options table resolved options
---@return string[]
function M.cmd(options)
  local server = options.server
  if server.cmd then
    return server.cmd
  end
  return { server.path or 'rusta', 'serve' }
end

return M
