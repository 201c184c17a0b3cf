-- :checkhealth rusta — the server and its version, cargo, the memory folder, the device,
-- rust-analyzer beside Rusta and who checks now, the shadow workspace's disk.
local M = {}

local health = vim.health

local function run(cmd)
  local ok, result = pcall(function()
    return vim.system(cmd, { text = true }):wait(15000)
  end)
  if not ok then
    return nil, tostring(result)
  end
  if result.code ~= 0 then
    return nil, vim.trim((result.stderr ~= '' and result.stderr) or result.stdout or '')
  end
  return vim.trim(result.stdout), nil
end

-- Same folder as rusta_lsp.config.memory_uri: <cache>/rusta/memory/<name>-<sha256(root)[:12]>.
local function default_memory(root)
  local cache = vim.env.XDG_CACHE_HOME or vim.fs.joinpath(vim.env.HOME or '', '.cache')
  local name = vim.fs.basename(root)
  return vim.fs.joinpath(cache, 'rusta', 'memory', name .. '-' .. vim.fn.sha256(root):sub(1, 12))
end

local function check_server(rusta)
  local cmd = require('rusta.config').cmd(rusta.options)
  if vim.fn.executable(cmd[1]) ~= 1 then
    health.error(('server `%s` not found'):format(cmd[1]), {
      'Install it: python3 -m pip install rusta-lsp',
      "Or point to it: require('rusta').setup({ server = { path = '/path/to/rusta' } })",
    })
    return
  end
  local version, err = run({ cmd[1], '--version' })
  if version then
    health.ok(('server: %s (%s)'):format(version, vim.fn.exepath(cmd[1])))
  else
    health.error(('server `%s --version` failed: %s'):format(cmd[1], err or '?'))
  end
end

local function check_cargo()
  local version, err = run({ 'cargo', '--version' })
  if version then
    health.ok('cargo: ' .. version)
  else
    health.error('cargo not found: patches cannot be verified (' .. (err or 'not on PATH') .. ')', {
      'Install Rust with rustup or your distribution packages',
    })
  end
end

local function check_memory(rusta)
  local uri = rusta.options.settings.memory.uri
  local client = rusta.client(0)
  if uri == '' then
    local root = client and client.root_dir or vim.fs.root(0, { 'Cargo.toml' })
    if not root then
      health.info('memory: open a file of a Cargo workspace to see its memory folder')
      return
    end
    uri = default_memory(vim.fn.resolve(root))
  end
  if uri:match('^%a[%w+.-]*://') then
    health.info('memory: remote URI ' .. uri)
  elseif vim.fn.isdirectory(uri) == 1 then
    if vim.fn.filewritable(uri) == 2 then
      health.ok('memory folder: ' .. uri)
    else
      health.error('memory folder is not writable: ' .. uri)
    end
  else
    local parent = vim.fs.dirname(uri)
    while vim.fn.isdirectory(parent) == 0 and parent ~= vim.fs.dirname(parent) do
      parent = vim.fs.dirname(parent)
    end
    if vim.fn.filewritable(parent) == 2 then
      health.ok('memory folder: ' .. uri .. ' (created on first index)')
    else
      health.error('memory folder cannot be created under ' .. parent)
    end
  end
end

local function check_device(rusta)
  local device = rusta.options.settings.device
  local gpu = vim.fn.executable('nvidia-smi') == 1 and 'an NVIDIA GPU (cuda)'
    or (vim.uv.os_uname().sysname == 'Darwin' and 'Apple silicon (mps)')
    or nil
  if device == 'auto' then
    health.ok('device: auto → ' .. (gpu or 'cpu (no GPU found)'))
  elseif device == 'cpu' or gpu then
    health.ok('device: ' .. device)
  else
    health.warn(('device: %s requested but no GPU was found; the server falls back to cpu'):format(device))
  end
end

local function check_companion(rusta)
  local status = require('rusta.status')
  local companion = rusta.companion()
  if companion then
    health.ok(('rust-analyzer: found beside Rusta (client %d)'):format(companion.id))
    if vim.fn.has('nvim-0.11') == 1 then
      health.info('hover (K) shows both servers, each under its name (# rust_analyzer, # rusta)')
    end
  elseif vim.fn.executable('rust-analyzer') == 1 then
    health.warn('rust-analyzer: on $PATH but not attached beside Rusta', {
      "Enable it: vim.lsp.enable('rust_analyzer') (nvim-lspconfig) or rustaceanvim",
    })
  else
    health.info('rust-analyzer: not found beside Rusta (Rusta checks with cargo alone)')
  end
  local server = status.server_state()
  health.info('checking now: ' .. status.checking())
  if server.cargoEnabled == false or rusta.options.settings.cargo.enable == false then
    health.info('cargo.enable is false: Rusta runs no cargo here (no build.rs, no proc macro; no verified fixes)')
  end
  if type(server.shadowBytes) == 'number' then
    local cap = rusta.options.settings.cargo.shadowMaxGigabytes
    health.ok(('shadow workspace: %s (cap %s; :RustaClean removes it)'):format(
      status.human_bytes(server.shadowBytes),
      cap > 0 and (cap .. ' GB') or 'none'
    ))
  end
end

function M.check()
  local rusta = require('rusta')
  health.start('rusta')
  if vim.fn.has('nvim-0.10') == 1 then
    health.ok('Neovim ' .. tostring(vim.version()))
  else
    health.error('Neovim 0.10 or later is required')
  end
  check_server(rusta)
  check_cargo()
  check_memory(rusta)
  check_device(rusta)
  check_companion(rusta)
  local client = rusta.client(0)
  if client then
    health.ok(('attached: client %d, root %s, %s'):format(client.id, client.root_dir, rusta.statusline()))
  else
    health.info('no Rusta client attached to the current buffer')
  end
end

return M
