-- Rusta for Neovim: starts `rusta serve` for Rust buffers beside rust-analyzer and adds
-- :RustaExplain, :RustaDrill and :RustaReport. Neovim 0.10+ (vim.lsp.config/enable on 0.11+).
local config = require('rusta.config')
local status = require('rusta.status')

local M = {}

M.options = config.resolve()

local levels = vim.log.levels

local function notify(message, level)
  vim.notify('Rusta: ' .. message, level or levels.INFO)
end

local has_011 = vim.fn.has('nvim-0.11') == 1

-- Method-call style changed in 0.11 (client:request); 0.10 only has client.request.
local function call(client, method, ...)
  if has_011 then
    return client[method](client, ...)
  end
  return client[method](...)
end

local function on_heartbeat(_, params)
  params = params or {}
  local was_failing = status.heartbeat_error(status.last_heartbeat())
  local changed = status.heartbeat(params)
  local failure = status.heartbeat_error(params)
  if failure and failure ~= was_failing then
    notify(failure, levels.ERROR)
  elseif changed and M.options.notify.heartbeat then
    notify('heartbeat ' .. tostring(params.state))
  end
  vim.cmd.redrawstatus({ bang = true, mods = { silent = true } })
end

local function on_status(_, params)
  status.server_status(params)
  vim.cmd.redrawstatus({ bang = true, mods = { silent = true } })
end

local function on_exit(code, signal)
  if code ~= 0 or signal ~= 0 then
    local reason = ('the server exited with code %d (signal %d); see :LspLog'):format(code, signal)
    status.failed(reason)
    vim.schedule(function()
      notify(reason, levels.ERROR)
    end)
  end
end

--- The vim.lsp.Config for Rusta with the current options (used by lsp/rusta.lua too).
function M.lsp_config()
  return {
    cmd = config.cmd(M.options),
    filetypes = { 'rust' },
    root_markers = { 'Cargo.toml' },
    init_options = M.options.settings,
    handlers = { ['rusta/heartbeat'] = on_heartbeat, ['rusta/status'] = on_status },
    on_init = function()
      status.started()
    end,
    on_exit = on_exit,
  }
end

--- The Rusta client attached to a buffer, if any.
function M.client(bufnr)
  return vim.lsp.get_clients({ name = 'rusta', bufnr = bufnr or 0 })[1]
end

local function attached_client()
  local client = M.client(0)
  if not client then
    notify('no Rusta server is attached to this buffer (see :checkhealth rusta)', levels.WARN)
  end
  return client
end

--- Location list items for the anchors of an explanation, one per distinct anchor.
---@param result table docs/contracts.md explain JSON
---@param root string workspace root the anchor paths are relative to
function M.anchor_items(result, root)
  local items, seen = {}, {}
  for _, claim in ipairs(result.claims or {}) do
    for _, anchor in ipairs(claim.anchors or {}) do
      local key = ('%s:%d-%d'):format(anchor.path, anchor.start_line, anchor.end_line)
      if not seen[key] then
        seen[key] = true
        table.insert(items, {
          filename = vim.fs.joinpath(root, anchor.path),
          lnum = anchor.start_line,
          end_lnum = anchor.end_line,
          text = anchor.kind .. ': ' .. claim.text,
        })
      end
    end
  end
  return items
end

--- Shows an explanation: Markdown in a float, anchors in the location list (:lopen to jump).
function M.show_explanation(result, root)
  local lines = vim.split(result.markdown or '', '\n')
  if result.abstained and result.reason then
    table.insert(lines, '')
    table.insert(lines, '_Rusta abstained: ' .. result.reason .. '_')
  end
  local items = M.anchor_items(result, root)
  vim.fn.setloclist(0, {}, ' ', { title = 'Rusta: ' .. (result.symbol or ''), items = items })
  if #items > 0 then
    table.insert(lines, '')
    table.insert(lines, ('_%d anchors in the location list (:lopen)_'):format(#items))
  end
  vim.lsp.util.open_floating_preview(lines, 'markdown', { border = 'rounded', focus_id = 'rusta-explain' })
  return items
end

function M.explain()
  local client = attached_client()
  if not client then
    return
  end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  call(client, 'request', 'rusta/explain', params, function(err, result)
    if err then
      notify('explain failed: ' .. err.message, levels.ERROR)
      return
    end
    M.show_explanation(result, client.root_dir or vim.fn.getcwd())
  end, 0)
end

local function execute(command, on_result)
  local client = attached_client()
  if not client then
    return
  end
  -- The current file (attached, so Rusta's): one server may serve several Cargo workspaces, and
  -- it runs the command in the one this file belongs to.
  local arguments = { vim.uri_from_bufnr(0) }
  call(client, 'request', 'workspace/executeCommand', { command = command, arguments = arguments }, function(err, result)
    if err then
      notify(command .. ' failed: ' .. err.message, levels.ERROR)
      return
    end
    on_result(result)
  end, 0)
end

function M.drill()
  execute('rusta.drillNow', function(result)
    -- The server answers at once; the drill itself shows up as progress and heartbeat.
    notify('drill ' .. tostring(type(result) == 'table' and result.state or 'requested'))
  end)
end

function M.report()
  execute('rusta.showReport', function(result)
    if not (result and result.path) then
      notify('the server returned no report', levels.WARN)
      return
    end
    notify('report: ' .. result.path)
    if vim.ui.open then
      vim.ui.open(result.path)
    end
  end)
end

M.statusline = status.statusline

function M.clean()
  execute('rusta.cleanShadow', function(result)
    result = type(result) == 'table' and result or {}
    local held = (result.held and #result.held > 0) and (' (%d slot(s) in use by another Rusta kept)'):format(#result.held)
      or ''
    notify(('shadow workspace cleaned, %s freed%s'):format(status.human_bytes(result.freedBytes or 0), held))
  end)
end

local last_report -- the last rusta/companion params sent

-- rust-analyzer beside Rusta: its client's names in nvim-lspconfig and in rustaceanvim.
local COMPANIONS = { rust_analyzer = true, ['rust-analyzer'] = true }

--- The rust-analyzer client of the session, if one runs.
function M.companion()
  for _, client in ipairs(vim.lsp.get_clients()) do
    if COMPANIONS[client.name] then
      return client
    end
  end
end

--- rust-analyzer's error diagnostics as LSP sent them, each with its URI.
local function companion_errors(client)
  local errors = {}
  local namespace = vim.lsp.diagnostic.get_namespace(client.id)
  for _, d in ipairs(vim.diagnostic.get(nil, { namespace = namespace, severity = vim.diagnostic.severity.ERROR })) do
    local lsp = d.user_data and d.user_data.lsp
    if lsp then
      table.insert(errors, {
        uri = vim.uri_from_bufnr(d.bufnr),
        range = lsp.range,
        message = lsp.message,
        code = lsp.code ~= nil and tostring(lsp.code) or nil,
        source = lsp.source,
      })
    end
  end
  return errors
end

--- Tells every Rusta server what rust-analyzer is doing: `checking` its flycheck (nil: unchanged),
--- its error count and diagnostics. The server waits for the flycheck, skips its own check of a
--- save rust-analyzer found clean and verifies fixes for the errors it found without checking
--- first (see `rusta/companion` in the server's fixes feature).
function M.report_companion(checking)
  local companion = M.companion()
  if not companion then
    return
  end
  local errors = companion_errors(companion)
  -- The ranges as rust-analyzer sent them, in its client's encoding. With every error handed
  -- over, Rusta takes them instead of a first check of its own.
  local params = {
    name = 'rust-analyzer',
    checking = checking,
    errors = #errors,
    diagnostics = vim.list_slice(errors, 1, 200),
    positionEncoding = companion.offset_encoding,
  }
  if checking == nil and vim.deep_equal(params, last_report) then
    return -- nothing new (Rusta's own diagnostics changed)
  end
  last_report = params
  for _, client in ipairs(vim.lsp.get_clients({ name = 'rusta' })) do
    call(client, 'notify', 'rusta/companion', params)
  end
end

-- rust-analyzer's flycheck shows as `$/progress` titled "cargo check" (or "flycheck" in later versions).
local function is_flycheck(value, token)
  local title = (value.title or '') .. ' ' .. tostring(token or '')
  return title:find('cargo check', 1, true) ~= nil or title:find('flycheck', 1, true) ~= nil
end

local flycheck_tokens = {}
local diagnostics_timer

local function on_companion_progress(client, params)
  local value = params.value or {}
  local key = tostring(params.token)
  if value.kind == 'begin' and is_flycheck(value, params.token) then
    flycheck_tokens[key] = true
    M.report_companion(true)
  elseif value.kind == 'end' and flycheck_tokens[key] then
    flycheck_tokens[key] = nil
    M.report_companion(false)
  end
end

local function on_progress(args)
  local client = vim.lsp.get_client_by_id(args.data.client_id)
  if client and COMPANIONS[client.name] then
    on_companion_progress(client, args.data.params or {})
    return
  end
  if not (client and client.name == 'rusta') then
    return
  end
  local params = args.data.params or {}
  local value = params.value or {}
  local title = status.progress(params.token, value)
  if M.options.notify.progress and (value.kind == 'begin' or value.kind == 'end') then
    notify(title .. (value.kind == 'begin' and '…' or ' done'))
  end
  vim.cmd.redrawstatus({ bang = true, mods = { silent = true } })
end

-- 0.10 has no vim.lsp.enable: start a client per Cargo root when a Rust buffer opens.
local function start_010(bufnr)
  local root = vim.fs.root(bufnr, { 'Cargo.toml' })
  if not root then
    return
  end
  local cfg = M.lsp_config()
  cfg.name, cfg.root_dir, cfg.filetypes, cfg.root_markers = 'rusta', root, nil, nil
  vim.lsp.start(cfg, { bufnr = bufnr })
end

local group = vim.api.nvim_create_augroup('rusta', { clear = true })

--- Configures and enables Rusta. Raises with a dotted path on a bad option.
---@param opts table|nil see rusta.config.defaults()
function M.setup(opts)
  M.options = config.resolve(opts)
  local cmd = config.cmd(M.options)
  -- vim.lsp.enable skips a config whose command is missing without a word: say it here.
  if vim.fn.executable(cmd[1]) ~= 1 then
    status.failed(cmd[1] .. ' not found')
    notify(
      ('the language server `%s` was not found. Install it with `python3 -m pip install rusta-lsp`, '
        .. "or set server.path in require('rusta').setup()."):format(cmd[1]),
      levels.ERROR
    )
  end
  vim.api.nvim_clear_autocmds({ group = group })
  vim.api.nvim_create_autocmd('LspProgress', { group = group, callback = on_progress })
  -- Either server may attach first: each attach tells Rusta whether rust-analyzer is there.
  vim.api.nvim_create_autocmd('LspAttach', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and (client.name == 'rusta' or COMPANIONS[client.name]) then
        M.report_companion(nil)
      end
    end,
  })
  -- Errors that arrive after the flycheck's end (or without one): the count follows them.
  vim.api.nvim_create_autocmd('DiagnosticChanged', {
    group = group,
    callback = function()
      if not M.companion() then
        return
      end
      if diagnostics_timer then
        diagnostics_timer:stop()
      end
      diagnostics_timer = vim.defer_fn(function()
        M.report_companion(nil)
      end, 250)
    end,
  })
  if vim.lsp.enable then -- 0.11+
    vim.lsp.config('rusta', M.lsp_config())
    vim.lsp.enable('rusta')
  else
    vim.api.nvim_create_autocmd('FileType', {
      group = group,
      pattern = 'rust',
      callback = function(args)
        start_010(args.buf)
      end,
    })
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.bo[buf].filetype == 'rust' then
        start_010(buf)
      end
    end
  end
  -- Running servers get the new settings at once.
  for _, client in ipairs(vim.lsp.get_clients({ name = 'rusta' })) do
    call(client, 'notify', 'workspace/didChangeConfiguration', { settings = M.options.settings })
  end
  vim.api.nvim_create_user_command('RustaExplain', M.explain, { desc = 'Rusta: explain the symbol at the cursor' })
  vim.api.nvim_create_user_command('RustaDrill', M.drill, { desc = 'Rusta: drill now' })
  vim.api.nvim_create_user_command('RustaReport', M.report, { desc = 'Rusta: open the report' })
  vim.api.nvim_create_user_command('RustaClean', M.clean, { desc = 'Rusta: remove the shadow workspace' })
end

return M
