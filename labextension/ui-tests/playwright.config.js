/**
 * Galata (Playwright) configuration: a real JupyterLab server with jupyter_scripting,
 * Debian's chromium (never a downloaded browser), one worker.
 */
const crypto = require('crypto');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const port = process.env.UI_TESTS_PORT || '18810';
// One token per run, shared with the server through the environment.
process.env.UI_TESTS_PORT = port;
process.env.UI_TESTS_TOKEN =
  process.env.UI_TESTS_TOKEN || crypto.randomBytes(16).toString('hex');

module.exports = {
  ...baseConfig,
  timeout: 120 * 1000,
  expect: { timeout: 30 * 1000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${port}`,
    // Every request of the page carries the token, as a client of `make run` would.
    extraHTTPHeaders: { Authorization: `token ${process.env.UI_TESTS_TOKEN}` },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium'
    },
    trace: 'off',
    video: 'off',
    viewport: { width: 1280, height: 800 }
  },
  webServer: {
    command: 'jlpm start',
    url: `http://127.0.0.1:${port}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: false
  }
};
