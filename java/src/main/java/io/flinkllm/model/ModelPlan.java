package io.flinkllm.model;

import io.flinkllm.LlmException;
import io.flinkllm.call.LlmCall;
import io.flinkllm.call.RowTypes;
import io.flinkllm.config.LlmOptions;
import io.flinkllm.engine.TaskSource;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.catalog.Column;
import org.apache.flink.table.catalog.ResolvedCatalogModel;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.ArrayType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeFamily;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.RowType;

/**
 * A {@code CREATE MODEL ... WITH ('provider' = 'flinkllm')}, checked at planning and ready to
 * run: the task (a task file, or a task document written from the options and OUTPUT columns),
 * how INPUT rows become text, and the call that turns text into OUTPUT rows. Every mistake —
 * an option's value, a type without JSON counterpart, a keyword that does not apply, a task file
 * that disagrees with the columns, a broken model directory — fails here, naming the column or
 * option, never on a task manager.
 */
final class ModelPlan implements Serializable {
    private static final long serialVersionUID = 1L;

    final LlmCall call;
    final InputTemplate input;

    private ModelPlan(LlmCall call, InputTemplate input) {
        this.call = call;
        this.input = input;
    }

    static ModelPlan plan(String name, ResolvedCatalogModel model, ReadableConfig jobConfig) {
        Map<String, String> with = model.getOptions();
        Configuration options = Configuration.fromMap(with);
        LlmOptions llm;
        try {
            llm = LlmOptions.fromModel(with);
        } catch (IllegalArgumentException e) {
            throw new ValidationException(name + ": " + e.getMessage(), e);
        }

        List<String> inputNames = new ArrayList<>();
        List<LogicalType> inputTypes = new ArrayList<>();
        for (Column c : model.getResolvedInputSchema().getColumns()) {
            inputNames.add(c.getName());
            inputTypes.add(c.getDataType().getLogicalType());
        }
        InputTemplate template = InputTemplate.of(options.get(LlmOptions.INPUT_TEMPLATE), inputNames, inputTypes);

        String errorColumn = options.getOptional(LlmOptions.ERROR_STRING_COLUMN).orElse(null);
        List<OutputSchema.Column> answer = new ArrayList<>();
        List<DataTypes.Field> rowFields = new ArrayList<>();
        int errorField = -1;
        for (Column c : model.getResolvedOutputSchema().getColumns()) {
            rowFields.add(DataTypes.FIELD(c.getName(), c.getDataType()));
            if (!c.getName().equals(errorColumn)) {
                answer.add(new OutputSchema.Column(c.getName(), c.getDataType().getLogicalType(), c.getComment().orElse(null)));
            } else if (c.getDataType().getLogicalType().is(LogicalTypeFamily.CHARACTER_STRING) && c.getDataType().getLogicalType().isNullable()) {
                errorField = rowFields.size() - 1;
            } else {
                throw new ValidationException(name + ": '" + LlmOptions.ERROR_STRING_COLUMN.key() + "' column '" + errorColumn
                        + "' must be a nullable STRING, not " + c.getDataType());
            }
        }
        if (errorColumn != null && errorField < 0) {
            throw new ValidationException(name + ": '" + LlmOptions.ERROR_STRING_COLUMN.key() + "' names '" + errorColumn
                    + "', which is not an OUTPUT column");
        }
        if (answer.isEmpty()) {
            throw new ValidationException(name + ": OUTPUT has no physical column for the model to answer");
        }

        TaskSource task = options.getOptional(LlmOptions.TASK_FILE).isPresent()
                ? taskFile(name, options, with, template, jobConfig)
                : taskDocument(name, with, answer, template, jobConfig);
        String taskType;
        try {
            taskType = LlmCall.describeTask(task, llm);
        } catch (LlmException e) {
            throw new ValidationException(name + ": " + e.getMessage(), e);
        }
        agree(name, (RowType) RowTypes.parse(taskType).getLogicalType(), answer);
        DataType row = DataTypes.ROW(rowFields.toArray(new DataTypes.Field[0])).bridgedTo(org.apache.flink.table.data.RowData.class);
        return new ModelPlan(LlmCall.forModel(task, row, errorField, llm), template);
    }

    /** The WITH keys that are the task's (the engine's), as written: every key but the provider's own and output.*. */
    private static Map<String, String> taskKeys(Map<String, String> with) {
        Set<String> own = LlmOptions.PROVIDER_OPTIONS.stream().map(ConfigOption::key).collect(Collectors.toSet());
        own.add("provider");
        Map<String, String> keys = new LinkedHashMap<>();
        with.forEach((k, v) -> {
            if (!own.contains(k) && !k.startsWith(LlmOptions.OUTPUT_PREFIX)) {
                keys.put(k, v);
            }
        });
        return keys;
    }

    private static TaskSource taskFile(String name, Configuration options, Map<String, String> with, InputTemplate template,
            ReadableConfig jobConfig) {
        taskKeys(with).keySet().stream().findFirst().ifPresent(key -> {
            throw new ValidationException(name + ": give '" + key + "' in the task file, not with 'task-file'");
        });
        if (OutputSchema.anyKeywords(with)) {
            throw new ValidationException(name + ": 'task-file' gives the schema: remove the output.* options");
        }
        if (!"{input}".equals(template.engineTemplate())) {
            throw new ValidationException(name + ": 'input-template' has text around its columns: with 'task-file', that text belongs in "
                    + "the task file's input_template (it stays in the cached prompt there)");
        }
        return TaskSource.file(LlmCall.resolveFile(options.get(LlmOptions.TASK_FILE), jobConfig, name + ": task-file").toString());
    }

    /**
     * The task document a task file would hold: the task's WITH keys as written (the engine
     * reads and checks them), the model, the schema from the OUTPUT columns and the input
     * template's fixed text. Relative file names resolve against the tasks directory.
     */
    private static TaskSource taskDocument(String name, Map<String, String> with, List<OutputSchema.Column> answer,
            InputTemplate template, ReadableConfig jobConfig) {
        String model = with.get(LlmOptions.MODEL.key());
        if (model == null) {
            throw new ValidationException(name + ": give 'model' (a model name or directory) or 'task-file'");
        }
        ObjectNode doc = OutputSchema.JSON.createObjectNode();
        doc.put("name", name);
        doc.put("model", model);
        taskKeys(with).forEach((k, v) -> {
            if (!k.equals("schema")) {
                doc.put(k, v);
            }
        });
        doc.set("schema", schema(name, with, answer));
        doc.put("input_template", template.engineTemplate());
        try {
            return TaskSource.document(name, OutputSchema.JSON.writeValueAsString(doc), LlmCall.tasksDir(jobConfig));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static JsonNode schema(String name, Map<String, String> with, List<OutputSchema.Column> answer) {
        String given = with.get("schema");
        try {
            if (given == null) {
                return OutputSchema.derive(answer, with);
            }
        } catch (ValidationException e) {
            throw new ValidationException(name + ": " + e.getMessage(), e);
        }
        if (OutputSchema.anyKeywords(with)) {
            throw new ValidationException(name + ": 'schema' gives the whole schema: remove the output.* options");
        }
        try {
            return OutputSchema.JSON.readTree(given);
        } catch (IOException e) {
            throw new ValidationException(name + ": 'schema' is not JSON: " + e.getMessage(), e);
        }
    }

    /**
     * The task's answer must fill the OUTPUT columns: the same names in the same order, and each
     * value of a kind the column holds (a JSON string for text, DATE and TIMESTAMP columns; an
     * integer for integer, DECIMAL and floating columns; a number for DECIMAL and floating ones).
     */
    private static void agree(String name, RowType task, List<OutputSchema.Column> answer) {
        List<String> taskNames = task.getFieldNames();
        List<String> columns = answer.stream().map(c -> c.name).collect(Collectors.toList());
        if (!taskNames.equals(columns)) {
            throw new ValidationException(name + ": the task's answer has fields " + taskNames + " but OUTPUT has columns " + columns
                    + " (same names, same order)");
        }
        for (int i = 0; i < answer.size(); i++) {
            String problem = mismatch(task.getTypeAt(i), answer.get(i).type);
            if (problem != null) {
                throw new ValidationException(name + ": OUTPUT column '" + answer.get(i).name + "' is " + answer.get(i).type
                        + " but the task's schema gives " + task.getTypeAt(i) + problem);
            }
        }
    }

    /** Why an answer of type {@code task} cannot fill a column of type {@code column}, or null. */
    private static String mismatch(LogicalType task, LogicalType column) {
        if (task.isNullable() && !column.isNullable()) {
            return " (the answer may leave it out, the column is NOT NULL)";
        }
        switch (task.getTypeRoot()) {
            case VARCHAR:
                return column.getTypeRoot() == task.getTypeRoot() || column.is(LogicalTypeFamily.CHARACTER_STRING)
                        || column.is(LogicalTypeFamily.DATETIME) ? null : "";
            case BIGINT:
                return column.is(LogicalTypeFamily.NUMERIC) ? null : "";
            case DOUBLE:
                return column.is(LogicalTypeFamily.APPROXIMATE_NUMERIC)
                        || column.getTypeRoot() == LogicalTypeRoot.DECIMAL ? null : "";
            case BOOLEAN:
                return column.getTypeRoot() == task.getTypeRoot() ? null : "";
            case ARRAY:
                return column instanceof ArrayType ? mismatch(((ArrayType) task).getElementType().copy(false), ((ArrayType) column).getElementType()) : "";
            case ROW:
                if (!(column instanceof RowType) || !((RowType) task).getFieldNames().equals(((RowType) column).getFieldNames())) {
                    return " (ROW fields differ)";
                }
                for (int i = 0; i < ((RowType) task).getFieldCount(); i++) {
                    String inner = mismatch(((RowType) task).getTypeAt(i), ((RowType) column).getTypeAt(i));
                    if (inner != null) {
                        return " (field '" + ((RowType) task).getFieldNames().get(i) + "'" + inner + ")";
                    }
                }
                return null;
            default:
                return "";
        }
    }
}
