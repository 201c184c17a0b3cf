-- vim.lsp.Config for Rusta (Neovim 0.11+): `vim.lsp.enable('rusta')` works without setup();
-- require('rusta').setup(opts) overrides it through vim.lsp.config('rusta', ...).
---@type vim.lsp.Config
return require('rusta').lsp_config()
