package io.afasim.utmd;

import java.util.Objects;

/**
 * One step of a {@link TaskType}: a name, an apply and an optional undo. A step without undo must leave no
 * effect that a roll back would have to remove (a check, a notification), or belong to a REDO_FORWARD task.
 */
public final class TaskStep
{
    private final String name;
    private final StepAction apply;
    private final StepAction undo;

    TaskStep(final String name, final StepAction apply, final StepAction undo)
    {
        this.name = Objects.requireNonNull(name, "name");
        this.apply = Objects.requireNonNull(apply, "apply");
        this.undo = undo;
    }

    public String name()
    {
        return name;
    }

    public boolean hasUndo()
    {
        return null != undo;
    }

    StepOutcome apply(final TaskContext context)
    {
        return apply.run(context);
    }

    StepOutcome undo(final TaskContext context)
    {
        return undo.run(context);
    }
}
