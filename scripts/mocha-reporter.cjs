// Mocha's spec reporter plus one closing line the test runner reads:
//   cco-tests: planned P, passed X, failed Y, pending Z, not run N
// "not run" counts tests that never started, e.g. the rest of a suite whose
// hook failed. Used by every layer, inside the extension host too.
'use strict';
const Mocha = require('mocha');

const { EVENT_RUN_BEGIN, EVENT_RUN_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } = Mocha.Runner.constants;

class CountingSpec extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    let planned = 0;
    const passed = new Set();
    const failed = new Set();
    const pending = new Set();
    let hookFailures = 0;
    runner.once(EVENT_RUN_BEGIN, () => {
      planned = runner.total;
    });
    runner.on(EVENT_TEST_PASS, (t) => passed.add(t));
    runner.on(EVENT_TEST_PENDING, (t) => pending.add(t));
    runner.on(EVENT_TEST_FAIL, (t) => {
      if (t.type === 'hook') hookFailures++;
      else failed.add(t);
    });
    runner.once(EVENT_RUN_END, () => {
      const notRun = Math.max(0, planned - passed.size - failed.size - pending.size);
      Mocha.reporters.Base.consoleLog(
        `cco-tests: planned ${planned}, passed ${passed.size}, failed ${failed.size + hookFailures}, pending ${pending.size}, not run ${notRun}`,
      );
    });
  }
}

module.exports = CountingSpec;
