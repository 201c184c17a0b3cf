-- A tiny test runner for `nvim --headless -l`: test(), skip(), eq(), run(). Prints one line per
-- test and "N passed, N failed, N skipped"; exits non-zero when anything failed.
-- RUSTA_E2E_STRICT=1 turns skips into failures (use it once every server feature has landed).
local M = { tests = {} }

function M.test(name, fn)
  table.insert(M.tests, { name = name, fn = fn })
end

local Skip = {}

-- print() in `nvim -l` goes to stderr without a newline discipline; the report goes to stdout.
local function say(text)
  io.stdout:write(text, '\n')
  io.stdout:flush()
end
M.say = say

--- Ends the current test as skipped, loudly, with the reason.
function M.skip(reason)
  error(setmetatable({ reason = reason }, Skip), 0)
end

function M.eq(expected, actual, what)
  if not vim.deep_equal(expected, actual) then
    error(('%sexpected %s, got %s'):format(what and (what .. ': ') or '', vim.inspect(expected), vim.inspect(actual)), 2)
  end
end

function M.truthy(value, what)
  if not value then
    error(what or 'expected a true value', 2)
  end
  return value
end

function M.matches(pattern, text, what)
  if type(text) ~= 'string' or not text:find(pattern) then
    error(('%s%q does not match %q'):format(what and (what .. ': ') or '', tostring(text), pattern), 2)
  end
end

--- Raises the error a function raised, or fails when it raised none.
function M.raises(fn)
  local ok, err = pcall(fn)
  if ok then
    error('expected an error', 2)
  end
  return tostring(err)
end

--- Waits up to `ms` for `cond()` to be truthy, processing events; fails with `what` on timeout.
function M.wait(ms, cond, what)
  local value
  local ok = vim.wait(ms, function()
    value = cond()
    return value
  end, 50)
  if not ok then
    error(('timed out after %d ms waiting for %s'):format(ms, what), 2)
  end
  return value
end

--- Runs the tests, then `cleanup` (if given), and exits.
function M.run(cleanup)
  local strict = vim.env.RUSTA_E2E_STRICT == '1'
  local passed, failed, skipped = 0, 0, 0
  for _, t in ipairs(M.tests) do
    local started = vim.uv.hrtime()
    local ok, err = xpcall(t.fn, function(e)
      if getmetatable(e) == Skip then
        return e
      end
      return debug.traceback(tostring(e), 2)
    end)
    local ms = math.floor((vim.uv.hrtime() - started) / 1e6)
    if ok then
      passed = passed + 1
      say(('ok   %s (%d ms)'):format(t.name, ms))
    elseif getmetatable(err) == Skip and not strict then
      skipped = skipped + 1
      say(('SKIP %s: %s'):format(t.name, err.reason))
    else
      failed = failed + 1
      local message = getmetatable(err) == Skip and ('skipped in strict mode: ' .. err.reason) or err
      say(('FAIL %s (%d ms)\n%s'):format(t.name, ms, message))
    end
  end
  if cleanup then
    cleanup()
  end
  say(('%d passed, %d failed, %d skipped'):format(passed, failed, skipped))
  os.exit(failed == 0 and passed > 0 and 0 or 1)
end

return M
