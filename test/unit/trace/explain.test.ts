// --explain lines for loss recovery (trace/explain.ts explainRecovery), en and zh.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explainRecovery } from '../../../src/trace/explain.js';

const CAUSE = 'RACK reorder timer: the reordering window passed, the segment is lost: fast recovery (RFC 8985 §6.3)';

test('explainRecovery: the phase, the cause without its rule, the rule in brackets', () => {
  assert.is(
    explainRecovery('tuntcp :40312', 'recovery', CAUSE),
    'tuntcp :40312 recovery: fast recovery  RACK reorder timer: the reordering window passed, the segment is lost: fast recovery [RFC 8985 §6.3]',
  );
});

test('explainRecovery in Chinese', () => {
  assert.is(explainRecovery('tuntcp :40312', 'recovery', CAUSE, 'zh'), 'tuntcp :40312 丢包恢复: 快速恢复  RACK 乱序计时器到期：乱序窗口已过，报文判定丢失：快速恢复 [RFC 8985 §6.3]');
});

test.run();
