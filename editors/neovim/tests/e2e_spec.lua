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

-- rust-analyzer runs beside Rusta, as users run them (editors/scripts/install-tools.sh installs it).
local rust_analyzer = vim.env.RUST_ANALYZER
if not rust_analyzer or vim.fn.executable(rust_analyzer) ~= 1 then
  t.say('FAIL RUST_ANALYZER is not set to an executable rust-analyzer (run editors/run-tests.sh)')
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
vim.lsp.config('rust_analyzer', {
  cmd = { rust_analyzer },
  cmd_env = { RUST_SRC_PATH = vim.env.RUST_SRC_PATH },
  filetypes = { 'rust' },
  root_markers = { 'Cargo.toml' },
})
vim.lsp.enable('rust_analyzer')

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

--- The code action titles of every attached server, by client name.
local function action_titles(params)
  local titles = {}
  for id, response in pairs(vim.lsp.buf_request_sync(0, 'textDocument/codeAction', params, 20000) or {}) do
    local name = vim.lsp.get_client_by_id(id).name
    titles[name] = titles[name] or {}
    for _, action in ipairs(response.result or {}) do
      table.insert(titles[name], action.title)
    end
  end
  return titles
end

local function position_params(line, col)
  return { textDocument = { uri = vim.uri_from_bufnr(0) }, position = { line = line, character = col } }
end

local function hover_text(line, col)
  local result = request('textDocument/hover', position_params(line, col))
  local contents = result and result.contents or {}
  return type(contents) == 'table' and (contents.value or '') or tostring(contents)
end

local client, companion

t.test('attaches to a Rust file of the crate, rooted at Cargo.toml', function()
  vim.cmd.edit(store)
  t.eq('rust', vim.bo.filetype)
  client = t.wait(30000, function()
    local c = require('rusta').client(0)
    return c and c.initialized and c
  end, 'the rusta client to attach and initialize')
  t.eq(workspace, client.root_dir)
  t.eq({ 'Cargo.toml' }, vim.lsp.config.rusta.root_markers)
  companion = t.wait(60000, function()
    local c = require('rusta').companion()
    return c and c.initialized and c
  end, 'rust-analyzer to attach beside Rusta')
  t.eq(workspace, companion.root_dir)
  t.eq(2, #vim.lsp.get_clients({ bufnr = 0 }), 'both servers on the buffer')
  -- Rusta heard of rust-analyzer from the plugin (rusta/companion) and says so in rusta/status.
  t.wait(30000, function()
    return require('rusta.status').server_state().companion == 'rust-analyzer'
  end, 'Rusta to know rust-analyzer is beside it')
end)

t.test(':checkhealth rusta reports OK for server, cargo, memory and device', function()
  vim.cmd('checkhealth rusta')
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  vim.cmd('bwipeout!')
  t.matches('OK server: rusta %d+%.%d+', text)
  t.matches('OK cargo: cargo %d', text)
  t.matches('OK memory folder: ' .. vim.pesc(vim.fs.joinpath(tmp, 'memory')), text)
  t.matches('OK device: ', text)
  t.matches('OK rust%-analyzer: found beside Rusta %(client %d+%)', text)
  t.matches('checking now: %a+', text)
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
  -- Neovim 0.11+ asks every server and shows each answer under its name: neither hides the other.
  local shown = t.wait(20000, function()
    local lines = table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(float), 0, -1, false), '\n')
    return lines:find('rust_analyzer', 1, true) and lines
  end, "rust-analyzer's part of the hover float")
  t.matches('store%.rs:%d+', shown) -- Rusta's anchored claims
  t.matches('# rusta', shown)
  t.matches('# rust_analyzer', shown)
  t.matches('ledger::store', shown) -- rust-analyzer's path of the type
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
  -- rust-analyzer's flycheck reports the error. (The 2022 rust-analyzer sometimes drops a
  -- check's diagnostics when it restarts the check after loading the workspace: save again then.)
  local companion_ns = vim.lsp.diagnostic.get_namespace(companion.id)
  local saved = vim.uv.now()
  t.wait(120000, function()
    if vim.uv.now() - saved > 20000 then
      saved = vim.uv.now()
      vim.cmd('silent write')
    end
    return #vim.diagnostic.get(0, { lnum = line, namespace = companion_ns, severity = vim.diagnostic.severity.ERROR }) > 0
  end, "rust-analyzer's error on the line")
  local titles = {}
  t.wait(180000, function()
    local params = position_params(line, col)
    params.range = { start = params.position, ['end'] = params.position }
    params.context = {
      -- Both servers' diagnostics on the line, as LSP sent them.
      diagnostics = vim.tbl_map(function(d)
        return d.user_data and d.user_data.lsp
      end, vim.diagnostic.get(0, { lnum = line })),
      only = { 'quickfix' },
    }
    titles = action_titles(params)
    for _, title in ipairs(titles.rusta or {}) do
      if title:find(FIX_TITLE) then
        return true
      end
    end
  end, 'a "Rusta: ... (compiles, ..., N%)" code action (offered: ' .. vim.inspect(titles) .. ')')
  -- rust-analyzer's quick fixes are listed beside Rusta's verified one.
  t.truthy(#(titles.rust_analyzer or {}) > 0, "no rust-analyzer code action: " .. vim.inspect(titles))
  -- The error is listed once (rust-analyzer's), never again by Rusta.
  local errors = t.wait(60000, function()
    local found = vim.diagnostic.get(0, { lnum = line, severity = vim.diagnostic.severity.ERROR })
    return #found > 0 and found
  end, "rust-analyzer's error on the line")
  t.eq(1, #errors, 'errors on the line: ' .. vim.inspect(vim.tbl_map(function(d)
    return { d.source, d.message }
  end, errors)))
  t.truthy(errors[1].source ~= 'rusta', 'the one error is not Rusta\'s')
  t.eq(vim.lsp.diagnostic.get_namespace(companion.id), errors[1].namespace, 'the error comes from rust-analyzer')
  -- Beside rust-analyzer: Rusta's diagnostics are hints with source "rusta", never errors.
  local ours = t.wait(30000, function()
    local found = vim.diagnostic.get(0, { namespace = vim.lsp.diagnostic.get_namespace(client.id) })
    return #found > 0 and found
  end, 'a Rusta diagnostic for the broken file')
  for _, d in ipairs(ours) do
    t.eq(vim.diagnostic.severity.HINT, d.severity, 'severity of ' .. d.message)
    t.eq('rusta', d.source)
    -- Tied to the error it fixes: rust-analyzer's, which the plugin handed over.
    local related = (d.user_data.lsp.relatedInformation or {})[1]
    t.truthy(related, 'the hint names the error it fixes')
    t.matches('^rustc: .*HashMap', related.message)
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
  -- rust-analyzer checked the fixed file and found no error: Rusta does not check it again.
  local state = t.wait(120000, function()
    local s = require('rusta.status').server_state()
    return type(s.lastCheck) == 'string' and s.lastCheck:find('^skipped') and s
  end, 'Rusta to skip its check of a save rust-analyzer found clean (last: '
    .. vim.inspect(require('rusta.status').server_state()) .. ')')
  t.matches('rust%-analyzer checked this save and found no error', state.lastCheck)
  t.eq(0, #vim.diagnostic.get(0, { namespace = vim.lsp.diagnostic.get_namespace(client.id) }), 'Rusta\'s hint is gone')
end)

t.test("another broken save: Rusta verifies a fix for rust-analyzer's errors without a check of its own", function()
  local use_line = find('use std::collections::HashMap;')
  vim.api.nvim_buf_set_lines(0, use_line, use_line + 1, false, {})
  -- Not the text of the last broken save: that one Rusta would answer from its last report.
  vim.api.nvim_buf_set_lines(0, -1, -1, false, { '' })
  vim.cmd('silent write')
  -- At the last broken save Rusta checked and found rust-analyzer's errors the same as its own:
  -- now the errors the plugin hands over stand in for its first check.
  local saved = vim.uv.now()
  local state = t.wait(180000, function()
    if vim.uv.now() - saved > 30000 then
      -- The 2022 rust-analyzer may drop a check's diagnostics, or Rusta compared only now: a new
      -- text (the same one would be answered from the last report).
      saved = vim.uv.now()
      vim.api.nvim_buf_set_lines(0, -1, -1, false, { '' })
      vim.cmd('silent write')
    end
    local s = require('rusta.status').server_state()
    return type(s.lastCheck) == 'string' and s.lastCheck:find("rust%-analyzer's check$") and s
  end, "Rusta to take rust-analyzer's errors (last: " .. vim.inspect(require('rusta.status').server_state()) .. ')')
  local errors, fixed = state.lastCheck:match('^(%d+) error%(s%), (%d+) fixed')
  t.truthy(tonumber(errors) > 0 and tonumber(fixed) > 0, state.lastCheck)
  local ours = t.wait(30000, function()
    local found = vim.diagnostic.get(0, { namespace = vim.lsp.diagnostic.get_namespace(client.id) })
    return #found > 0 and found
  end, "Rusta's hint for the broken file")
  t.matches('^verified fix: ', ours[1].message)
  vim.api.nvim_buf_set_lines(0, use_line, use_line, false, { 'use std::collections::HashMap;' })
  vim.cmd('silent write')
  t.truthy((cargo_check()), 'the crate compiles again')
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
    -- A drill forced on the old heartbeat, before the new settings arrived, reports "disabled":
    -- wait for one under the new settings.
    return (last.job == 'drill' or last.lastJob == 'drill') and last.state ~= 'disabled' and last
  end, 'a rusta/heartbeat notification for the drill (last: ' .. vim.inspect(status.last_heartbeat()) .. ')')
  t.truthy(beat.state ~= 'disabled', 'the heartbeat is still disabled: the new settings did not arrive: ' .. vim.inspect(beat))
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
