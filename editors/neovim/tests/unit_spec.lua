-- Unit tests of the plugin without a server: options, validation, the LSP config, status, anchors.
-- Run: nvim --headless -u NONE -i NONE --cmd 'set rtp^=editors/neovim' -l editors/neovim/tests/unit_spec.lua
local here = vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2))
local t = dofile(vim.fs.joinpath(here, 'harness.lua'))
local config = require('rusta.config')
local status = require('rusta.status')
local rusta = require('rusta')

local notifications = {}
vim.notify = function(message, level)
  table.insert(notifications, { message = message, level = level })
end

-- The VS Code manifest is the oracle: tests/test_editor_settings.py holds it to the server's config.py.
t.test('defaults are the server\'s settings, camelCase, as editors/vscode/package.json declares them', function()
  local manifest = vim.json.decode(table.concat(vim.fn.readfile(vim.fs.joinpath(here, '..', '..', 'vscode', 'package.json')), '\n'))
  local expected = {}
  for key, spec in pairs(manifest.contributes.configuration.properties) do
    local dotted = key:gsub('^rusta%.', '')
    if not (dotted:find('^server%.') or dotted:find('^trace%.')) then
      local node, parts = expected, vim.split(dotted, '.', { plain = true })
      for i = 1, #parts - 1 do
        node[parts[i]] = node[parts[i]] or {}
        node = node[parts[i]]
      end
      node[parts[#parts]] = spec.default
    end
  end
  t.eq(expected, config.resolve().settings)
end)

t.test('user options merge over defaults and lists replace theirs', function()
  local options = config.resolve({
    settings = { abstain = { targetPrecision = 0.9 }, cargo = { checkArgs = { 'check' } } },
    notify = { progress = false },
  })
  t.eq(0.9, options.settings.abstain.targetPrecision)
  t.eq({ 'check' }, options.settings.cargo.checkArgs)
  t.eq(20, options.settings.heartbeat.idleSeconds)
  t.eq(false, options.notify.progress)
end)

t.test('storage options are a table of strings, sent as an object even when empty', function()
  local options = config.resolve({ settings = { memory = { storageOptions = { endpoint = 'http://127.0.0.1:9000' } } } })
  t.eq('http://127.0.0.1:9000', options.settings.memory.storageOptions.endpoint)
  t.eq('{}', vim.json.encode(config.resolve().settings.team.storageOptions))
  local err = t.raises(function()
    config.resolve({ settings = { team = { storageOptions = { allow_http = true } } } })
  end)
  t.matches('^rusta%.settings%.team%.storageOptions: expected table of strings', err)
end)

t.test('a bad type is reported with its dotted path', function()
  local err = t.raises(function()
    config.resolve({ settings = { heartbeat = { enabled = 'yes' } } })
  end)
  t.matches('^rusta%.settings%.heartbeat%.enabled: expected boolean, got string', err)
end)

t.test('range and enum checks name the option', function()
  t.matches('^rusta%.settings%.abstain%.targetPrecision: expected number between 0 and 1', t.raises(function()
    config.resolve({ settings = { abstain = { targetPrecision = 1.5 } } })
  end))
  t.matches('^rusta%.settings%.device: expected one of auto, cuda, mps, cpu', t.raises(function()
    config.resolve({ settings = { device = 'tpu' } })
  end))
  t.matches('^rusta%.server%.cmd: expected list of strings', t.raises(function()
    config.resolve({ server = { cmd = 'rusta serve' } })
  end))
  t.matches('^rusta%.settings%.cargo: expected table, got string', t.raises(function()
    config.resolve({ settings = { cargo = 'check' } })
  end))
end)

t.test('unknown options are errors, not silently ignored', function()
  t.eq('rusta.settings.heartbeat.idle: unknown option', t.raises(function()
    config.resolve({ settings = { heartbeat = { idle = 3 } } })
  end))
end)

t.test('the command line: server.cmd, then server.path, then rusta on PATH', function()
  t.eq({ 'rusta', 'serve' }, config.cmd(config.resolve()))
  t.eq({ '/venv/bin/rusta', 'serve' }, config.cmd(config.resolve({ server = { path = '/venv/bin/rusta' } })))
  t.eq({ 'python3', '-m', 'rusta_lsp', 'serve' }, config.cmd(config.resolve({
    server = { path = '/venv/bin/rusta', cmd = { 'python3', '-m', 'rusta_lsp', 'serve' } },
  })))
end)

t.test('lsp/rusta.lua returns a vim.lsp.Config table', function()
  local files = vim.api.nvim_get_runtime_file('lsp/rusta.lua', false)
  t.eq(1, #files, 'lsp/rusta.lua on the runtimepath')
  local cfg = dofile(files[1])
  t.eq({ 'rust' }, cfg.filetypes)
  t.eq({ 'Cargo.toml' }, cfg.root_markers)
  t.eq({ 'rusta', 'serve' }, cfg.cmd)
  t.eq(0.95, cfg.init_options.abstain.targetPrecision)
  t.truthy(cfg.handlers['rusta/heartbeat'], 'heartbeat handler')
end)

t.test('setup() registers the config and the commands; a missing server is announced', function()
  notifications = {}
  rusta.setup({ server = { path = '/nonexistent/rusta' }, settings = { device = 'cpu' } })
  if vim.fn.has('nvim-0.11') == 1 then
    t.eq({ '/nonexistent/rusta', 'serve' }, vim.lsp.config.rusta.cmd)
    t.eq('cpu', vim.lsp.config.rusta.init_options.device)
    t.eq({ 'rust' }, vim.lsp.config.rusta.filetypes)
  end
  for _, name in ipairs({ 'RustaExplain', 'RustaDrill', 'RustaReport' }) do
    t.eq(2, vim.fn.exists(':' .. name), name)
  end
  t.eq(1, #notifications)
  t.eq(vim.log.levels.ERROR, notifications[1].level)
  t.matches('python3 %-m pip install rusta%-lsp', notifications[1].message)
  t.eq('Rusta: error', rusta.statusline())
end)

t.test(':checkhealth rusta reports a missing server as an error', function()
  rusta.setup({ server = { path = '/nonexistent/rusta' } })
  vim.cmd('checkhealth rusta')
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  t.matches('server `/nonexistent/rusta` not found', text)
  t.matches('ERROR', text)
  vim.cmd('bwipeout!')
end)

t.test('status folds progress and heartbeat into busy, idle and error', function()
  status.reset()
  t.eq('Rusta: idle', status.statusline())
  status.progress('ingest', { kind = 'begin', title = 'Indexing', percentage = 0 })
  status.progress('ingest', { kind = 'report', message = '3/9 files', percentage = 33.4 })
  status.progress(4, { kind = 'begin', title = 'Drill' })
  t.eq({ text = 'Rusta: Indexing 33% (+1)', busy = true, error = false, detail = '3/9 files' }, status.view())
  t.eq('Indexing', status.progress('ingest', { kind = 'end' }))
  status.progress(4, { kind = 'end' })
  t.eq(false, status.view().busy)
  status.progress('beat', { kind = 'begin', title = 'Rusta heartbeat: drill', percentage = 0 })
  t.eq('Rusta heartbeat: drill', status.view().text, 'no Rusta: Rusta, no 0%')
  status.progress('beat', { kind = 'end' })
  t.eq(true, status.heartbeat({ state = 'running', job = 'drill', progress = { percentage = 40 } }))
  t.eq({ text = 'Rusta: drill 40%', busy = true, error = false }, status.view())
  t.eq(true, status.heartbeat({ state = 'waiting', job = vim.NIL, progress = vim.NIL }))
  t.eq({ text = 'Rusta: idle', busy = false, error = false, detail = 'heartbeat waiting' }, status.view())
  status.heartbeat({ state = 'idle', job = vim.NIL, lastJob = 'drill', results = { drill = { error = 'OSError: no cargo' } } })
  t.eq({ text = 'Rusta: heartbeat error', busy = false, error = true, detail = 'heartbeat job drill failed: OSError: no cargo' }, status.view())
  status.heartbeat({ state = 'running', job = 'reflect', lastJob = 'drill', results = { drill = { error = 'x' } } })
  t.eq(false, status.view().error, 'a new job runs: the old failure is history')
  status.failed('crashed')
  t.eq(true, status.view().error)
  status.started()
  t.eq(false, status.view().error)
end)

t.test('the status says who checks now: rust-analyzer, then Rusta, then nobody', function()
  status.reset()
  status.server_status({ cargoEnabled = true, companion = 'rust-analyzer', checking = 'rust-analyzer' })
  t.eq('Rusta: waiting for rust-analyzer', status.statusline())
  t.eq('rust-analyzer', status.checking())
  status.server_status({ cargoEnabled = true, checking = 'rusta' })
  t.eq('Rusta', status.checking())
  status.server_status({ cargoEnabled = true, checking = vim.NIL, shadowBytes = 1234000000 })
  t.eq('nobody', status.checking())
  t.eq('Rusta: idle', status.statusline())
  t.eq('1.2 GB', status.human_bytes(status.server_state().shadowBytes))
  status.reset()
end)

t.test('explanations put one location-list item per distinct anchor', function()
  local result = {
    symbol = 'Ledger::post',
    abstained = false,
    claims = {
      { text = 'fn post', anchors = { { path = 'src/lib.rs', start_line = 10, end_line = 14, kind = 'definition' } } },
      {
        text = 'used in main',
        anchors = {
          { path = 'src/main.rs', start_line = 3, end_line = 3, kind = 'reference' },
          { path = 'src/lib.rs', start_line = 10, end_line = 14, kind = 'definition' },
        },
      },
    },
    markdown = '**Ledger::post** posts an entry.',
  }
  local items = rusta.show_explanation(result, '/ws')
  t.eq(2, #items)
  t.eq('/ws/src/lib.rs', items[1].filename)
  t.eq(10, items[1].lnum)
  t.eq('reference: used in main', items[2].text)
  local loclist = vim.fn.getloclist(0, { title = 1, items = 1 })
  t.eq('Rusta: Ledger::post', loclist.title)
  t.eq(2, #loclist.items)
end)

t.run()
