package io.afasim.utmd;

/**
 * The apply or undo of a {@link TaskStep}. Runs on the task manager's thread. Under
 * {@link RecoveryPolicy#REDO_FORWARD} an apply may run again after a crash, and an undo may always run again:
 * both must be idempotent. An unexpected RuntimeException counts as {@link StepOutcome#FAILED}.
 */
@FunctionalInterface
public interface StepAction
{
    StepOutcome run(TaskContext context);
}
