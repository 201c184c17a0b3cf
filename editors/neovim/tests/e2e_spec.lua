-- End to end in a real nvim against the real server, on a private copy of examples/ledger.
-- Run through editors/run-tests.sh (needs RUSTA_SERVER). Features the server does not advertise
-- are skipped with the reason (failures under RUSTA_E2E_STRICT=1); advertised ones must work.
local here = vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2))
local t = dofile(vim.fs.joinpath(here, 'harness.lua'))
local repo = vim.fs.normalize(vim.fs.joinpath(here, '..', '..', '..'))

local server = vim.env.RUSTA_SERVER
if not server or vim.fn.executable(server) ~= 1 then
  t.say('FAIL RUSTA_SERVER is not set to an executable rusta (run editors/run-tests.sh)')
  t.say('0 passed, 1 failed, 0 skipped')
  os.exit(1)
end

local FIX_TITLE = '^Rusta: .+ %(compiles, .+, %d+%%%)$'

-- A private copy of the crate: edits and cargo runs never touch the repository.
local tmp = vim.fn.tempname()
local workspace = vim.fs.joinpath(tmp, 'ledger')
vim.fn.mkdir(tmp, 'p')
local copied = vim.system({ 'cp', '-r', vim.fs.joinpath(repo, 'examples', 'ledger'), workspace }):wait()
assert(copied.code == 0, 'cannot copy examples/ledger: ' .. (copied.stderr or ''))
vim.fn.delete(vim.fs.joinpath(workspace, 'target'), 'rf')
local store = vim.fs.joinpath(workspace, 'src', 'store.rs')

local notes = {}
vim.notify = function(message, level)
  table.insert(notes, { message = message, level = level })
end

vim.cmd('filetype on')
local options = {
  server = { path = server },
  settings = {
    memory = { uri = vim.fs.joinpath(tmp, 'memory') },
    -- Low enough that a verified fix is offered rather than abstained: this tests the editor.
    abstain = { targetPrecision = 0.5 },
    -- Off until the drill test turns it on: background jobs would compete with the other tests.
    heartbeat = { enabled = false },
  },
}
require('rusta').setup(options)

--- 0-based line and byte column of `needle` (plus `offset`) in the current buffer.
local function find(needle, offset)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(0, 0, -1, false)) do
    local col = line:find(needle, 1, true)
    if col then
      return i - 1, col - 1 + (offset or 0)
    end
  end
  error(('"%s" not found in %s: the fixture changed; update the e2e test'):format(needle, vim.api.nvim_buf_get_name(0)))
end

local function gate(advertised, feature)
  if not advertised then
    t.skip('the server does not advertise ' .. feature .. ' yet')
  end
end

local function cargo_check()
  local run = vim.system({ 'cargo', 'check', '--offline', '--quiet' }, {
    cwd = workspace,
    env = { CARGO_TARGET_DIR = vim.fs.joinpath(tmp, 'cargo-target') },
    text = true,
  }):wait(300000)
  return run.code == 0, (run.stdout or '') .. (run.stderr or '')
end

local function request(method, params, ms)
  local client = require('rusta').client(0)
  local responses = vim.lsp.buf_request_sync(0, method, params, ms or 20000) or {}
  local response = responses[client.id] or {}
  return response.result, response.error
end

local function position_params(line, col)
  return { textDocument = { uri = vim.uri_from_bufnr(0) }, position = { line = line, character = col } }
end

local function hover_text(line, col)
  local result = request('textDocument/hover', position_params(line, col))
  local contents = result and result.contents or {}
  return type(contents) == 'table' and (contents.value or '') or tostring(contents)
end

local client

t.test('attaches to a Rust file of the crate, rooted at Cargo.toml', function()
  vim.cmd.edit(store)
  t.eq('rust', vim.bo.filetype)
  client = t.wait(30000, function()
    local c = require('rusta').client(0)
    return c and c.initialized and c
  end, 'the rusta client to attach and initialize')
  t.eq(workspace, client.root_dir)
  t.eq({ 'Cargo.toml' }, vim.lsp.config.rusta.root_markers)
end)

t.test(':checkhealth rusta reports OK for server, cargo, memory and device', function()
  vim.cmd('checkhealth rusta')
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  vim.cmd('bwipeout!')
  t.matches('OK server: rusta %d+%.%d+', text)
  t.matches('OK cargo: cargo %d', text)
  t.matches('OK memory folder: ' .. vim.pesc(vim.fs.joinpath(tmp, 'memory')), text)
  t.matches('OK device: ', text)
  t.truthy(not text:find('ERROR'), 'checkhealth reported an error:\n' .. text)
end)

t.test('documentSymbol lists the items of the file', function()
  gate(client.server_capabilities.documentSymbolProvider, 'documentSymbolProvider')
  local names = {}
  local function collect(symbols)
    for _, symbol in ipairs(symbols or {}) do
      names[symbol.name] = true
      collect(symbol.children)
    end
  end
  collect((request('textDocument/documentSymbol', { textDocument = { uri = vim.uri_from_bufnr(0) } })))
  for _, name in ipairs({ 'Ledger', 'LedgerError', 'apply', 'balance' }) do
    t.truthy(names[name], name .. ' missing from the symbols: ' .. vim.inspect(vim.tbl_keys(names)))
  end
end)

t.test('hover shows anchored Rusta text in a float', function()
  gate(client.server_capabilities.hoverProvider, 'hoverProvider')
  local line, col = find('Result<(), LedgerError>', #'Result<(), ' + 2)
  local text = t.wait(60000, function()
    local value = hover_text(line, col)
    return value:find('store%.rs:%d+') and value
  end, 'a hover with an anchor into store.rs')
  t.matches('LedgerError', text)
  -- The user's path: K (vim.lsp.buf.hover) opens a float with the same text.
  vim.api.nvim_win_set_cursor(0, { line + 1, col })
  vim.lsp.buf.hover()
  local float = t.wait(10000, function()
    for _, win in ipairs(vim.api.nvim_list_wins()) do
      if vim.api.nvim_win_get_config(win).relative ~= '' then
        return win
      end
    end
  end, 'the hover float')
  local shown = table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(float), 0, -1, false), '\n')
  t.matches('store%.rs:%d+', shown)
  vim.api.nvim_win_close(float, true)
end)

t.test(':RustaExplain shows the explanation and puts its anchors in the location list', function()
  local _, err = request('rusta/explain', position_params(0, 0))
  gate(not (err and err.code == vim.lsp.protocol.ErrorCodes.MethodNotFound), 'rusta/explain')
  local line, col = find('Result<(), LedgerError>', #'Result<(), ' + 2)
  vim.api.nvim_win_set_cursor(0, { line + 1, col })
  vim.fn.setloclist(0, {}, 'r', { title = '', items = {} })
  vim.cmd('RustaExplain')
  local list = t.wait(30000, function()
    local l = vim.fn.getloclist(0, { title = 1, items = 1 })
    return #l.items > 0 and l
  end, 'anchors in the location list')
  -- Named by its path: crate::store::LedgerError, or crate::LedgerError through lib.rs's re-export.
  t.matches('^Rusta: crate::.*LedgerError$', list.title)
  for _, item in ipairs(list.items) do
    local file = vim.api.nvim_buf_get_name(item.bufnr)
    t.truthy(vim.uv.fs_stat(file), 'anchor file exists: ' .. file)
    t.truthy(item.lnum >= 1 and item.lnum <= #vim.fn.readfile(file), 'anchor line inside the file')
  end
  t.matches('^definition: ', list.items[1].text)
end)

t.test('a broken file gets a verified Rusta fix; applying it makes the crate compile', function()
  gate(client.server_capabilities.codeActionProvider, 'codeActionProvider')
  t.truthy(cargo_check(), 'the fixture must compile before it is broken')
  local use_line = find('use std::collections::HashMap;')
  vim.api.nvim_buf_set_lines(0, use_line, use_line + 1, false, {})
  vim.cmd('silent write')
  t.eq(false, (cargo_check()), 'deleting the import must break the crate')
  local line, col = find('balances: HashMap', #'balances: ')
  vim.api.nvim_win_set_cursor(0, { line + 1, col })
  local titles = {}
  t.wait(180000, function()
    local namespace = vim.lsp.diagnostic.get_namespace(client.id)
    local params = position_params(line, col)
    params.range = { start = params.position, ['end'] = params.position }
    params.context = {
      -- The server's own hint diagnostics on the line, as LSP sent them.
      diagnostics = vim.tbl_map(function(d)
        return d.user_data and d.user_data.lsp
      end, vim.diagnostic.get(0, { lnum = line, namespace = namespace })),
      only = { 'quickfix' },
    }
    titles = {}
    for _, action in ipairs(request('textDocument/codeAction', params) or {}) do
      table.insert(titles, action.title)
      if action.title:find(FIX_TITLE) then
        return true
      end
    end
  end, 'a "Rusta: ... (compiles, ..., N%)" code action (offered: ' .. vim.inspect(titles) .. ')')
  -- Beside rust-analyzer: Rusta's diagnostics are hints with source "rusta", never errors.
  local ours = t.wait(30000, function()
    local found = vim.diagnostic.get(0, { namespace = vim.lsp.diagnostic.get_namespace(client.id) })
    return #found > 0 and found
  end, 'a Rusta diagnostic for the broken file')
  for _, d in ipairs(ours) do
    t.eq(vim.diagnostic.severity.HINT, d.severity, 'severity of ' .. d.message)
    t.eq('rusta', d.source)
  end
  -- The user's path: the code action menu, filtered to the verified fix and applied.
  local before = vim.api.nvim_buf_get_changedtick(0)
  vim.lsp.buf.code_action({
    apply = true,
    filter = function(action)
      return action.title:find(FIX_TITLE) ~= nil
    end,
  })
  t.wait(30000, function()
    return vim.api.nvim_buf_get_changedtick(0) ~= before
  end, 'the fix to edit the buffer')
  vim.cmd('silent write')
  t.truthy(find('use std::collections::HashMap;') ~= nil)
  local ok, output = cargo_check()
  t.truthy(ok, 'the crate still does not compile after the fix:\n' .. output)
end)

t.test(':RustaReport opens the HTML report the server wrote', function()
  local commands = (client.server_capabilities.executeCommandProvider or {}).commands or {}
  gate(vim.tbl_contains(commands, 'rusta.showReport'), 'the rusta.showReport command')
  local opened
  vim.ui.open = function(path)
    opened = path
  end
  vim.cmd('RustaReport')
  t.wait(120000, function()
    return opened
  end, 'the report to be opened')
  t.matches('%.html$', opened)
  t.truthy(vim.uv.fs_stat(opened), 'the report exists: ' .. opened)
end)

-- Last: the drill keeps the server busy in the background.
t.test('settings changed by setup() reach the server; :RustaDrill runs a drill the heartbeat reports', function()
  local commands = (client.server_capabilities.executeCommandProvider or {}).commands or {}
  gate(vim.tbl_contains(commands, 'rusta.drillNow'), 'the rusta.drillNow command')
  local status = require('rusta.status')
  -- workspace/didChangeConfiguration: the heartbeat on, but never idle long enough to start by itself.
  require('rusta').setup(vim.tbl_deep_extend('force', options, {
    settings = { heartbeat = { enabled = true, idleSeconds = 3600 } },
  }))
  -- Asked again every 2 s: a request that beats the new settings finds the heartbeat still off.
  local asked = 0
  local beat = t.wait(60000, function()
    if vim.uv.now() - asked > 2000 then
      asked = vim.uv.now()
      vim.cmd('RustaDrill')
    end
    local last = status.last_heartbeat()
    return (last.job == 'drill' or last.lastJob == 'drill') and last
  end, 'a rusta/heartbeat notification for the drill (last: ' .. vim.inspect(status.last_heartbeat()) .. ')')
  t.truthy(beat.state ~= 'disabled', 'the heartbeat is still disabled: the new settings did not arrive')
  local answers = vim.tbl_filter(function(note)
    return note.message:find('^Rusta: drill ') ~= nil
  end, notes)
  t.truthy(#answers > 0, 'no answer to rusta.drillNow was shown')
end)

t.test('$/progress reached the status helper and vim.notify', function()
  local progress = vim.tbl_filter(function(note)
    return note.message:find('…$') ~= nil
  end, notes)
  t.truthy(#progress > 0, 'no progress notification; notifications: ' .. vim.inspect(notes))
  t.matches('^Rusta: ', require('rusta').statusline())
  t.eq(false, require('rusta.status').view().error)
end)

t.test('the server shuts down when the client stops it', function()
  local pid = client.rpc.pid
  client:stop()
  t.wait(15000, function()
    return #vim.lsp.get_clients({ name = 'rusta' }) == 0
  end, 'the client to stop')
  if pid then
    t.wait(15000, function()
      return not vim.uv.kill(pid, 0)
    end, 'the server process ' .. pid .. ' to exit')
  end
end)

t.test('the Neovim 0.10 path (vim.lsp.start on FileType) attaches as well', function()
  vim.lsp.enable('rusta', false)
  local enable = vim.lsp.enable
  vim.lsp.enable = nil -- as on 0.10
  local ok, err = pcall(require('rusta').setup, options)
  vim.lsp.enable = enable
  assert(ok, err)
  vim.cmd.edit(vim.fs.joinpath(workspace, 'src', 'entry.rs'))
  local legacy = t.wait(30000, function()
    local c = require('rusta').client(0)
    return c and c.initialized and c
  end, 'a client started by vim.lsp.start')
  t.eq(workspace, legacy.root_dir)
  t.eq(1, #vim.lsp.get_clients({ name = 'rusta' }), 'one client for the workspace')
  local line, col = find('pub fn euros', #'pub fn ')
  t.matches('entry%.rs:%d+', t.wait(60000, function()
    local value = hover_text(line, col)
    return value:find('entry%.rs:%d+') and value
  end, 'an anchored hover'))
  legacy:stop()
end)

t.run(function()
  vim.fn.delete(tmp, 'rf')
end)
