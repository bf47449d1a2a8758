package io.afasim.utmd;

/**
 * The task types a controller knows, by stable type id. Recovery looks types up here by the id in the journal.
 */
public final class TaskTypeRegistry
{
    private final TaskType[] types = new TaskType[UtmdLimits.TASK_TYPES_MAX];

    public TaskTypeRegistry register(final TaskType type)
    {
        Verify.argument(types[type.typeId()] == null, "task type id " + type.typeId() + " already registered as " +
            types[type.typeId()]);
        Verify.argument(find(type.name()) == null, "task type name " + type.name() + " already registered");
        types[type.typeId()] = type;
        return this;
    }

    /**
     * @return the type with that id, or null.
     */
    public TaskType get(final int typeId)
    {
        return typeId > 0 && typeId < types.length ? types[typeId] : null;
    }

    /**
     * @return the type with that name, or null.
     */
    public TaskType find(final String name)
    {
        for (final TaskType type : types)
        {
            if (type != null && type.name().equals(name))
            {
                return type;
            }
        }
        return null;
    }
}
